"""API errors: a stable machine code and a Vietnamese message, mapped to HTTP in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from kycuong.errors import KcError
from kycuong.inputs import hidden_characters_message
from kycuong.replay import explain


class ApiError(Exception):
    """A domain error the API reports as ``{"error": {"code", "message"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers


def not_found(what: str = "Đối tượng") -> ApiError:
    # The same answer whether it does not exist or is outside the caller's scope.
    return ApiError(404, "not_found", f"{what} không tồn tại hoặc nằm ngoài phạm vi của bạn")


def forbidden() -> ApiError:
    return ApiError(403, "forbidden", "Tài khoản của bạn không có quyền thực hiện thao tác này")


def bad_request(code: str, message: str, details: Any = None) -> ApiError:
    return ApiError(400, code, message, details)


ERROR_EXAMPLES: dict[int, dict[str, dict[str, Any]]] = {
    400: {
        "error": {
            "code": "invalid_file",
            "message": "Tệp có 1 dòng bị từ chối, chưa nhập gì",
            "details": ["Dòng 3: Không tìm thấy đơn vị B1 trong phạm vi của bạn"],
        }
    },
    401: {"error": {"code": "unauthorized", "message": "Chưa đăng nhập hoặc phiên đã hết hạn"}},
    403: {
        "error": {
            "code": "forbidden",
            "message": "Tài khoản của bạn không có quyền thực hiện thao tác này",
        }
    },
    404: {
        "error": {
            "code": "not_found",
            "message": "Vi phạm không tồn tại hoặc nằm ngoài phạm vi của bạn",
        }
    },
    409: {
        "error": {
            "code": "conflict",
            "message": "Đối tượng đang ở trạng thái không cho phép thay đổi này",
        }
    },
    422: {
        "error": {
            "code": "invalid_request",
            "message": "Dữ liệu gửi lên không hợp lệ",
            "details": [],
        }
    },
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI descriptions of the error answers a route may give."""
    return {
        code: {
            "description": ERROR_EXAMPLES[code]["error"]["message"],
            "content": {"application/json": {"example": ERROR_EXAMPLES[code]}},
        }
        for code in codes
    }


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


PageRenderer = Callable[[Request, int, str | None], Response]
# Where FastAPI says a request's value came from: not part of the field's name people read.
_SOURCES = ("query", "path", "body", "header", "cookie")


def _problem(error: Any) -> str:
    """One of pydantic's errors in Vietnamese ("'format': giá trị "zzz" không hợp lệ; chọn
    một trong: 'json', 'csv', 'xlsx'"): what is wrong, the typed value quoted safely."""
    loc = tuple(error.get("loc", ()))
    named = {**error, "loc": loc[1:] if loc and loc[0] in _SOURCES else loc}
    text = explain(named)
    expected = (error.get("ctx") or {}).get("expected")
    if error.get("type") in ("literal_error", "enum") and expected:
        text += f"; chọn một trong: {str(expected).replace(' or ', ', ')}"
    return text


BAD_VALUE_PAGE = (
    "Dữ liệu chứa ký tự hoặc giá trị không hợp lệ (ví dụ ký tự điều khiển dán từ tệp khác). "
    "Hãy quay lại, sửa rồi gửi lại."
)


def install(
    app: FastAPI,
    page: PageRenderer | None = None,
    wants_json: Callable[[str], bool] | None = None,
) -> None:
    """Map errors to ``{"error": {...}}``; with ``page``, a browser path (``wants_json`` false)
    gets an HTML page instead for an unknown address, a wrong method or an unreadable value."""

    async def as_page(request: Request, status: int, message: str | None = None) -> Response | None:
        if page is None or wants_json is None or wants_json(request.url.path):
            return None
        return await run_in_threadpool(page, request, status, message)

    @app.exception_handler(KcError)
    async def _domain_error(_request: Request, exc: KcError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            _body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # a free text with hidden controls says so, instead of a generic "invalid"
        hidden = hidden_characters_message(list(exc.errors()))
        shown = await as_page(request, 422, hidden)
        if shown is not None:
            return shown
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": _problem(e)}
            for e in exc.errors()
        ]
        code, message = (
            ("hidden_characters", hidden)
            if hidden
            else ("invalid_request", "Dữ liệu gửi lên không hợp lệ")
        )
        return JSONResponse(_body(code, message, details), status_code=422)

    @app.exception_handler(DataError)
    async def _bad_value(request: Request, _exc: DataError) -> Response:
        # The database refused a value the schema let through (a NUL byte, an odd number).
        shown = await as_page(request, 400, BAD_VALUE_PAGE)
        if shown is not None:
            return shown
        return JSONResponse(
            _body("invalid_value", "Dữ liệu chứa ký tự hoặc giá trị không hợp lệ"), status_code=400
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _exc: Exception) -> Response:
        # A fault of ours: the log keeps the traceback (Starlette re-raises after this
        # answer), the person gets a Vietnamese page or error body, never a traceback.
        try:
            shown = await as_page(request, 500)
        except Exception:  # the page itself failed (the database may be the fault)
            shown = None
        return shown or JSONResponse(
            _body("internal_error", "Lỗi hệ thống, vui lòng thử lại sau hoặc báo quản trị viên"),
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        shown = (
            await as_page(request, exc.status_code) if exc.status_code in (400, 404, 405) else None
        )
        if shown is not None:
            if exc.headers:
                shown.headers.update(exc.headers)
            return shown
        messages = {
            # Starlette's own 400s (a multipart body it cannot parse) say it in English.
            400: ("invalid_request", "Dữ liệu gửi lên không đọc được"),
            401: ("unauthorized", "Chưa đăng nhập hoặc phiên đã hết hạn"),
            404: ("not_found", "Không tìm thấy địa chỉ yêu cầu"),
            405: ("method_not_allowed", "Phương thức không được hỗ trợ"),
        }
        code, message = messages.get(exc.status_code, ("http_error", str(exc.detail)))
        return JSONResponse(
            _body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )
