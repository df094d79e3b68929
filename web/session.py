"""Browser sign-in: the session cookie (HttpOnly, SameSite=Lax, Secure behind TLS) carries the
same signed, expiring token as the API, and every form carries a CSRF token bound to it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Unauthorized
from services.scope import Scope, scope_of
from store.models import User

SESSION_COOKIE = "kc_session"
PRELOGIN_COOKIE = "kc_csrf"  # double-submit token for the sign-in form (no session yet)


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in browser: the scope, the name to greet, the CSRF token its forms carry."""

    scope: Scope
    display_name: str
    csrf: str
    must_change_password: bool = False


class PasswordChangeRequired(Unauthorized):
    """Signed in, but an admin's password reset asks for a new password before anything else."""

    def __init__(self) -> None:
        super().__init__("Bạn cần đặt mật khẩu mới trước khi tiếp tục")


def issue(user: User, secret: str, minutes: int, now: datetime) -> str:
    """The cookie value: the API's token format (sub, role, iat, exp)."""
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "iat": now.timestamp(),  # precise, so that a sign-out refuses every earlier session
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def csrf_for(token: str, secret: str) -> str:
    """The CSRF token of a session: derived, so nothing is stored, and useless elsewhere."""
    return hmac.new(secret.encode(), b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def new_prelogin_token() -> str:
    return secrets.token_urlsafe(24)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def visitor(db: DbSession, token: str | None, secret: str) -> Visitor:
    """Who this browser is; ``Unauthorized`` when not signed in, expired or disabled."""
    if not token:
        raise Unauthorized("Vui lòng đăng nhập")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "iat", "sub"]}
        )
        user_id = int(claims["sub"])
        issued = float(claims["iat"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại") from exc
    user = db.get(User, user_id)
    if user is None or not user.active:
        raise Unauthorized("Tài khoản đã bị khóa hoặc không còn tồn tại")
    if user.tokens_valid_after is not None and issued < user.tokens_valid_after.timestamp():
        raise Unauthorized("Phiên đăng nhập đã kết thúc, vui lòng đăng nhập lại")
    return Visitor(
        scope_of(db, user),
        user.full_name or user.username,
        csrf_for(token, secret),
        user.must_change_password,
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
