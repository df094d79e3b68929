"""Error pages for browsers: an unknown address (404), a method the page does not take (405),
a form value the page cannot read (422) become a Vietnamese page with a way back, while the
JSON API (``/api``) and the operators' endpoints keep their ``{"error": {...}}`` answers."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from kycuong.errors import Unauthorized
from web import common

# Paths whose errors stay JSON: the API and the probes and metrics read by machines.
JSON_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")

MESSAGES = {
    400: "Dữ liệu gửi lên không đọc được (biểu mẫu hoặc tệp bị cắt ngang). Hãy tải lại trang "
    "rồi gửi lại.",
    404: "Địa chỉ này không có trong Kỷ Cương. Hãy kiểm tra lại đường dẫn hoặc chọn một mục "
    "trong trình đơn.",
    405: "Trang này không nhận thao tác vừa gửi. Hãy quay lại trang trước và dùng nút trên trang.",
    422: "Một giá trị trong biểu mẫu hoặc đường dẫn không đọc được (quá dài hoặc sai dạng). "
    "Hãy quay lại, sửa rồi gửi lại.",
    500: "Đã có lỗi trong hệ thống khi xử lý yêu cầu này. Hãy thử lại sau ít phút; nếu vẫn lỗi, "
    "báo quản trị viên (thời điểm và thao tác vừa làm).",
}


def wants_json(path: str) -> bool:
    return path == "/api" or path.startswith(JSON_PREFIXES)


def error_page(request: Request, status: int, message: str | None = None) -> Response:
    """The error page with the menu of whoever is signed in (none for a stranger)."""
    who = None
    try:
        with common.db(request) as db:
            who = common.visitor(request, db)
    except Unauthorized:
        who = None
    except Exception:
        if status < 500:
            raise
        who = None  # the fault may be the database itself: the page without a menu
    text = message or MESSAGES.get(status, common.error_title(status))
    return common.page(request, "not_found.html", status, visitor=who, message=text)
