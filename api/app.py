"""The FastAPI application: sign-in, violations, leave, summaries, operations."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.security import OAuth2PasswordRequestForm
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import Counter
from sqlalchemy import Engine

from api import documents, errors, excuses, ops, summaries, violations
from api.deps import ApiContext, Context, CurrentScope, DbSession
from kycuong.settings import Settings
from services.accounts import authenticate
from services.schemas import Me, Token
from store.db import engine_for
from web import pages
from web.pages import HERE as WEB_HERE

WEB_STATIC = WEB_HERE / "static"
auth = APIRouter(tags=["Đăng nhập"])
log = logging.getLogger("api.access")
REQUESTS = Counter(
    "kc_api_requests_total", "API requests by method and status", ["method", "status"]
)


@auth.post(
    "/api/auth/token",
    response_model=Token,
    responses={401: {"description": "Sai tên đăng nhập hoặc mật khẩu"}},
    summary="Đăng nhập (OAuth2 password)",
)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DbSession, context: Context
) -> Token:
    user = authenticate(db, form.username, form.password)
    if user is None:
        raise errors.ApiError(401, "invalid_credentials", "Sai tên đăng nhập hoặc mật khẩu")
    access, ttl = context.issue_token(user)
    return Token(access_token=access, expires_in=ttl)


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
    app = FastAPIOffline(
        title="Kỷ Cương API",
        static_url="/static/api-docs",
        redoc_url=None,  # ReDoc's bundle loads its logo from a CDN; Swagger UI at /docs is local
        version="1.0",
        description=(
            "JSON API dưới `/api`. Giám sát giờ giấc, kỷ luật, kỷ cương hành chính. "
            "Trưởng đơn vị xem và xử lý vi phạm "
            "của đơn vị mình; Nội vụ lấy báo cáo tổng hợp (JSON, CSV, XLSX). Lỗi trả về "
            '`{"error": {"code", "message"}}` với thông điệp tiếng Việt và mã ổn định.'
        ),
    )
    app.state.context = ApiContext(settings, engine or engine_for(settings.database_url))
    errors.install(app)

    @app.middleware("http")
    async def access_log(request: Request, call_next: Any) -> Any:
        """One line per request for operators: method, path, status, duration."""
        started = time.perf_counter()
        response = await call_next(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        REQUESTS.labels(request.method, response.status_code).inc()
        log.info(
            "%s %s %d %.1fms", request.method, request.url.path, response.status_code, elapsed_ms
        )
        return response

    app.mount("/static/web", StaticFiles(directory=WEB_STATIC), name="web-static")
    app.include_router(pages.router)
    app.include_router(ops.router)
    for router in (
        auth,
        violations.router,
        excuses.router,
        summaries.router,
        documents.router,
        ops.api_router,
    ):
        app.include_router(router)
    return app
