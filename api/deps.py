"""FastAPI dependencies, declared once as ``Annotated`` aliases: the session, the user's scope."""

from __future__ import annotations

import secrets
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
from services.scope import Scope, scope_of
from store.db import session_factory
from store.models import User

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


class ApiContext:
    """What every request shares: settings, the engine and the token key."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = session_factory(engine)
        self.secret = settings.api_secret or secrets.token_urlsafe(32)

    def issue_token(self, user: User) -> tuple[str, int]:
        ttl = self.settings.api_token_minutes * 60
        claims = {
            "sub": str(user.id),
            "role": user.role,
            "exp": datetime.now(UTC) + timedelta(seconds=ttl),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256"), ttl


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
        claims = jwt.decode(token, context.secret, algorithms=["HS256"])
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise _unauthorized() from exc
    user = db.get(User, user_id)
    if user is None or not user.active:
        raise _unauthorized()
    return scope_of(db, user)


CurrentScope = Annotated[Scope, Depends(get_scope)]


def require(permission: str) -> Callable[[Scope], Scope]:
    """A dependency that lets through only roles holding ``permission``."""

    def check(scope: CurrentScope) -> Scope:
        return scope.require(permission)

    return check
