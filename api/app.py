"""The FastAPI application: sign-in, violations, leave, summaries, operations."""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import Counter
from sqlalchemy import Engine
from starlette.background import BackgroundTask
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import documents, errors, excuses, ops, roster, summaries, users, violations
from api.deps import ApiContext, Context, CurrentScope, DbSession, require
from kycuong.bodylimit import MB, BodyLimit
from kycuong.headers import SecurityHeaders
from kycuong.memory import release_memory
from kycuong.settings import Settings
from services import signin
from services.schemas import Me, SigninLock, Token
from services.scope import Scope
from store.db import engine_for
from store.models import User
from web import ROUTERS
from web import errors as web_errors
from web.common import HERE as WEB_HERE

WEB_STATIC = WEB_HERE / "static"
auth = APIRouter(tags=["Đăng nhập"])
log = logging.getLogger("api.access")
REQUESTS = Counter(
    "kc_api_requests_total", "API requests by method and status", ["method", "status"]
)


@auth.post(
    "/api/auth/token",
    response_model=Token,
    responses={
        401: {"description": "Sai tên đăng nhập hoặc mật khẩu"},
        429: {"description": "Đăng nhập sai quá nhiều lần: tạm khóa"},
    },
    summary="Đăng nhập (OAuth2 password)",
)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, context: Context
) -> Token:
    # A sync route: FastAPI runs it in a worker thread, so argon2 stays off the event loop.
    address = request.client.host if request.client else None
    try:
        user = signin.sign_in(
            context.engine,
            form.username,
            form.password,
            address,
            datetime.now(UTC),
            context.signin_policy,
        )
    except signin.Throttled as exc:
        raise errors.ApiError(
            429, exc.code, exc.message, headers={"Retry-After": str(exc.retry_after_s)}
        ) from exc
    if user is None:
        raise errors.ApiError(401, "invalid_credentials", "Sai tên đăng nhập hoặc mật khẩu")
    access, ttl = context.issue_token(user)
    return Token(access_token=access, expires_in=ttl)


@auth.post(
    "/api/auth/logout",
    status_code=204,
    responses=errors.responses(401),
    summary="Đăng xuất: mọi phiên và mã truy cập đã cấp đều hết hiệu lực",
)
def logout(scope: CurrentScope, db: DbSession) -> Response:
    user = db.get(User, scope.user_id)
    assert user is not None
    user.tokens_valid_after = datetime.now(UTC)
    return Response(status_code=204)


@auth.get(
    "/api/auth/locks",
    response_model=list[SigninLock],
    responses=errors.responses(401, 403),
    summary="Tài khoản và địa chỉ bị tạm khóa đăng nhập (quản trị)",
)
def signin_locks(
    scope: Annotated[Scope, Depends(require("users:admin"))], context: Context
) -> list[SigninLock]:
    return [SigninLock(**asdict(lock)) for lock in signin.locks(context.engine)]


@auth.delete(
    "/api/auth/locks/{key}",
    status_code=204,
    responses=errors.responses(401, 403, 404),
    summary="Mở khóa đăng nhập (quản trị)",
)
def signin_unlock(
    key: str, scope: Annotated[Scope, Depends(require("users:admin"))], context: Context
) -> Response:
    if not signin.unlock(context.engine, key):
        raise errors.not_found("Khóa đăng nhập")
    return Response(status_code=204)


@auth.get(
    "/api/me",
    response_model=Me,
    responses=errors.responses(401),
    summary="Tài khoản đang đăng nhập",
)
def me(scope: CurrentScope) -> Me:
    return Me(
        username=scope.username,
        role=scope.role,
        unit_ids=sorted(scope.unit_ids) if scope.unit_ids is not None else None,
    )


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    meta: dict[str, Any] = {
        "title": "Kỷ Cương API",
        "version": "1.0",
        "description": (
            "JSON API dưới `/api`. Giám sát giờ giấc, kỷ luật, kỷ cương hành chính. "
            "Trưởng đơn vị xem và xử lý vi phạm "
            "của đơn vị mình; Nội vụ lấy báo cáo tổng hợp (JSON, CSV, XLSX). Lỗi trả về "
            '`{"error": {"code", "message"}}` với thông điệp tiếng Việt và mã ổn định.'
        ),
    }
    # /docs is served offline (its assets from this app); KC_API_DOCS=false turns it off
    # together with /openapi.json. /redoc is a page of web/ pointing to /docs (ReDoc's
    # bundle loads a logo from a CDN).
    app = (
        FastAPIOffline(static_url="/static/api-docs", redoc_url=None, **meta)
        if settings.api_docs
        else FastAPI(docs_url=None, redoc_url=None, openapi_url=None, **meta)
    )
    app.state.context = ApiContext(settings, engine or engine_for(settings.database_url))
    errors.install(app, page=web_errors.error_page, wants_json=web_errors.wants_json)

    @app.middleware("http")
    async def access_log(request: Request, call_next: Any) -> Any:
        """One line per request for operators: method, path, status, duration; after a
        report is sent, its memory goes back to the system (``release_memory``)."""
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path.startswith(LARGE_ANSWERS) and response.background is None:
            response.background = BackgroundTask(release_memory)  # once the body is sent
        elapsed_ms = (time.perf_counter() - started) * 1000
        REQUESTS.labels(request.method, response.status_code).inc()
        log.info(
            "%s %s %d %.1fms", request.method, request.url.path, response.status_code, elapsed_ms
        )
        return response

    app.mount("/static/web", StaticFiles(directory=WEB_STATIC), name="web-static")
    for web_router in ROUTERS:
        app.include_router(web_router)
    app.include_router(ops.router)
    for router in (
        auth,
        violations.router,
        excuses.router,
        roster.router,
        summaries.router,
        documents.router,
        ops.api_router,
        users.router,
        users.me_router,
    ):
        app.include_router(router)
    # Outermost last: sizes are checked before anything else reads the body.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, default=BODY_LIMIT, by_prefix=BODY_LIMITS)
    if settings.trusted_proxy_list:
        # The client's address (sign-in limits) and scheme (Secure cookies) from the
        # X-Forwarded-* headers, only when the peer is one of KC_TRUSTED_PROXIES.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    return app


def server_config(app: FastAPI, settings: Settings, **extra: Any) -> uvicorn.Config:
    """How ``kycuong api`` serves the app: forwarded headers are the app's to judge.

    uvicorn's own proxy handling believes X-Forwarded-For from 127.0.0.1 (or from
    FORWARDED_ALLOW_IPS) whatever KC_TRUSTED_PROXIES says; it is off, so one setting decides.
    """
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        proxy_headers=False,
        **extra,
    )


# Request bodies by route, checked from the headers and while streaming, before
# authentication: a sign-in form is small, an import file at most 5 MB plus its envelope.
BODY_LIMIT = 1 * MB
BODY_LIMITS = {"/auth/": 16 * 1024, "/api/auth/": 16 * 1024, "/dang-nhap": 16 * 1024}
BODY_LIMITS |= {"/excuses/import": 6 * MB, "/api/excuses/import": 6 * MB}
BODY_LIMITS |= {"/nhap-danh-sach": 6 * MB, "/api/roster/": 6 * MB, "/nghi-phep/nhap-tep": 6 * MB}
# A giải trình with its attachment: room for a file somewhat over KC_ATTACHMENT_MAX_BYTES, so
# that the page (not this middleware) refuses it with its own message.
BODY_LIMITS |= {"/cua-toi/giai-trinh/": 12 * MB, "/doi-mat-khau": 16 * 1024}


# The answers that build a province's figures (summaries, documents, the report page).
LARGE_ANSWERS = ("/api/summaries", "/api/documents", "/bao-cao")


def freeze_startup_heap() -> None:
    """Hide what start-up built (modules, routes, schemas, templates) from the cyclic
    collector: a full collection then scans the requests' objects only. Without it every
    ~18th page paid a scan of the whole app (the month grid's p95 was 4× its p50).
    Call once, in the process that serves, after ``create_app``."""
    gc.collect()
    gc.freeze()
