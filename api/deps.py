"""FastAPI dependencies, declared once as ``Annotated`` aliases: the session, the user's scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kycuong.errors import Unauthorized
from kycuong.settings import Settings
from services import signin
from services.scope import Scope, scope_of
from store.db import session_factory
from store.keys import server_key
from store.models import User

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


class ApiContext:
    """What every request shares: settings, the engine and the token key."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = session_factory(engine)
        self.secret = signing_secret(settings, engine)
        self.signin_policy = signin.Policy(
            account_failures=settings.signin_account_failures,
            address_failures=settings.signin_address_failures,
            window=timedelta(minutes=settings.signin_window_minutes),
            lockout=timedelta(minutes=settings.signin_lockout_minutes),
        )

    def issue_token(self, user: User) -> tuple[str, int]:
        ttl = self.settings.api_token_minutes * 60
        now = datetime.now(UTC)
        claims = {
            "sub": str(user.id),
            "role": user.role,
            # Precise, so that a sign-out refuses every token issued before it.
            "iat": now.timestamp(),
            "exp": now + timedelta(seconds=ttl),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256"), ttl


MIN_SECRET_LENGTH = 32
# Values that have appeared in examples: a token signed with one must never be accepted.
KNOWN_SECRETS = frozenset({"change-me", "change-me-to-a-long-random-string", "secret"})


class WeakSecret(RuntimeError):
    """KC_API_SECRET is set but too weak to sign tokens: the API refuses to start."""


def signing_secret(settings: Settings, engine: Engine) -> str:
    """KC_API_SECRET when strong; without it, a key made once and kept in the database.

    Every replica reads the same key, so a token from one is accepted by the others and a
    restart signs no one out.
    """
    secret = settings.api_secret
    if not secret:
        return server_key(engine, "api-signing")
    if len(secret) < MIN_SECRET_LENGTH or secret.lower() in KNOWN_SECRETS:
        raise WeakSecret(
            f"KC_API_SECRET must be at least {MIN_SECRET_LENGTH} random characters "
            "(e.g. `openssl rand -base64 48`), or unset to use a key kept in the database"
        )
    return secret


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def get_db(context: Context) -> Iterator[Session]:
    """One session and one transaction per request, committed when the route returns."""
    with context.sessions() as db, db.begin():
        yield db


DbSession = Annotated[Session, Depends(get_db)]


def _unauthorized() -> Unauthorized:
    return Unauthorized()


def get_scope(
    context: Context, db: DbSession, token: Annotated[str | None, Depends(oauth2)]
) -> Scope:
    if not token:
        raise _unauthorized()
    try:
        claims = jwt.decode(
            token, context.secret, algorithms=["HS256"], options={"require": ["exp", "iat", "sub"]}
        )
        user_id = int(claims["sub"])
        issued = float(claims["iat"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise _unauthorized() from exc
    user = db.get(User, user_id)
    if user is None or not user.active:
        raise _unauthorized()
    if user.tokens_valid_after is not None and issued < user.tokens_valid_after.timestamp():
        raise _unauthorized()  # signed out, or the password changed, after it was issued
    return scope_of(db, user)


CurrentScope = Annotated[Scope, Depends(get_scope)]


def require(permission: str) -> Callable[[Scope], Scope]:
    """A dependency that lets through only roles holding ``permission``."""

    def check(scope: CurrentScope) -> Scope:
        return scope.require(permission)

    return check
