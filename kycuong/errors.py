"""One error tree for what people do (lỗi nghiệp vụ): a stable code and a Vietnamese message.

Services raise these; each adapter maps them once: the API to ``{"error": {...}}`` with an
HTTP status, the pages to an alert or a 404 page, the CLI to ``Lỗi: …`` and exit code 2.
"""

from __future__ import annotations

from typing import Any


class KcError(Exception):
    """A domain error: ``code`` for machines, ``message`` (Vietnamese) for people."""

    status = 400

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


class Invalid(KcError):
    """The request cannot be done as asked (a missing reason, a bad date range)."""


class NotFound(KcError):
    """Absent, or outside the caller's scope: the same answer for both (never reveal it)."""

    status = 404

    def __init__(self, what: str = "Đối tượng") -> None:
        super().__init__("not_found", f"{what} không tồn tại hoặc nằm ngoài phạm vi của bạn")


class Forbidden(KcError):
    """The caller's role does not hold the permission."""

    status = 403

    def __init__(self) -> None:
        super().__init__("forbidden", "Tài khoản của bạn không có quyền thực hiện thao tác này")


class Unauthorized(KcError):
    """Not signed in, or the session or token has expired."""

    status = 401

    def __init__(self, message: str = "Chưa đăng nhập hoặc phiên đã hết hạn") -> None:
        super().__init__("unauthorized", message)


class Conflict(KcError):
    """The object is in a state that does not allow the change (withdrawn, cancelled)."""

    status = 409
