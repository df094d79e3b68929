"""Users (người dùng) for admins, and a user's own password: the same service as the
Người dùng page (services/accounts.py), so the last-admin rule and the history hold here too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentScope, DbSession, require
from api.errors import responses
from services import accounts
from services.scope import Scope

router = APIRouter(prefix="/api/users", tags=["Người dùng"])
me_router = APIRouter(prefix="/api/me", tags=["Đăng nhập"])
Admin = Annotated[Scope, Depends(require("users:admin"))]
UserId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class AssignmentIn(BaseModel):
    """A role (code or Vietnamese label) and its scope: ``unit_id`` for a unit head,
    ``agency_id`` (or null: every unit) for Nội vụ, HR clerks and auditors."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"role": "unit_head", "unit_id": 3, "agency_id": None}},
    )

    role: str = Field(min_length=1, max_length=64)
    unit_id: RowId | None = None
    agency_id: RowId | None = None

    def assignment(self) -> accounts.Assignment:
        return accounts.Assignment(accounts.role_of(self.role), self.unit_id, self.agency_id)


class UserIn(AssignmentIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "username": "tp.vanphong",
                "full_name": "Nguyễn Văn An",
                "role": "Trưởng đơn vị",
                "unit_id": 3,
                "password": None,
                "must_change": True,
            }
        },
    )

    username: str = Field(min_length=1, max_length=64)
    full_name: str = Field(default="", max_length=255)
    password: str | None = Field(default=None, max_length=256, description="null: one-time")
    must_change: bool = True


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, max_length=256, description="null: one-time")
    must_change: bool = True


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(max_length=256)
    new: str = Field(max_length=256)


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    role_label: str
    unit_id: int | None
    agency_id: int | None
    scope_label: str = Field(description="the unit or agency, or Toàn hệ thống")
    active: bool
    must_change_password: bool
    created_at: datetime


class UserIssued(BaseModel):
    user: UserOut
    password: str | None = Field(description="the one-time password, shown only in this answer")


class UserEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    action_label: str
    changes: list[str]


class UserDetailOut(UserOut):
    history: list[UserEventOut]


def _out(account: accounts.Account) -> UserOut:
    return UserOut.model_validate(account, from_attributes=True)


def _issued(issued: accounts.Issued) -> UserIssued:
    return UserIssued(user=_out(issued.account), password=issued.password)


@router.get(
    "", response_model=list[UserOut], responses=responses(401, 403), summary="Danh sách người dùng"
)
def list_users(
    db: DbSession,
    scope: Admin,
    q: Annotated[str | None, Query(max_length=64)] = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
) -> list[UserOut]:
    query = accounts.AccountQuery(q, accounts.role_of(role) if role else None, active)
    return [_out(a) for a in accounts.listing(db, scope, query)]


@router.post(
    "",
    response_model=UserIssued,
    status_code=201,
    responses=responses(401, 403, 404, 409, 422),
    summary="Tạo người dùng",
)
def create_user(body: UserIn, db: DbSession, scope: Admin) -> UserIssued:
    new = accounts.NewAccount(
        body.username, body.full_name, body.assignment(), body.password, body.must_change
    )
    return _issued(accounts.create(db, scope, new, datetime.now(UTC)))


@router.get(
    "/{user_id}",
    response_model=UserDetailOut,
    responses=responses(401, 403, 404),
    summary="Một người dùng và lịch sử thay đổi",
)
def get_user(user_id: UserId, db: DbSession, scope: Admin) -> UserDetailOut:
    found = accounts.detail(db, scope, user_id)
    return UserDetailOut(
        **_out(found.account).model_dump(),
        history=[UserEventOut.model_validate(e, from_attributes=True) for e in found.history],
    )


@router.post(
    "/{user_id}/disable",
    response_model=UserOut,
    responses=responses(401, 403, 404, 409),
    summary="Khóa tài khoản (mọi phiên kết thúc ngay)",
)
def disable(user_id: UserId, db: DbSession, scope: Admin) -> UserOut:
    return _out(accounts.set_active(db, scope, user_id, False, datetime.now(UTC)))


@router.post(
    "/{user_id}/enable",
    response_model=UserOut,
    responses=responses(401, 403, 404),
    summary="Mở khóa tài khoản",
)
def enable(user_id: UserId, db: DbSession, scope: Admin) -> UserOut:
    return _out(accounts.set_active(db, scope, user_id, True, datetime.now(UTC)))


@router.post(
    "/{user_id}/reset-password",
    response_model=UserIssued,
    responses=responses(401, 403, 404, 422),
    summary="Cấp lại mật khẩu",
)
def reset_password(
    user_id: UserId, db: DbSession, scope: Admin, body: PasswordResetIn | None = None
) -> UserIssued:
    body = body or PasswordResetIn()
    issued = accounts.reset_password(
        db, scope, user_id, datetime.now(UTC), body.password, body.must_change
    )
    return _issued(issued)


@router.put(
    "/{user_id}/role",
    response_model=UserOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Đổi vai trò, phạm vi",
)
def set_role(user_id: UserId, body: AssignmentIn, db: DbSession, scope: Admin) -> UserOut:
    return _out(accounts.assign(db, scope, user_id, body.assignment(), datetime.now(UTC)))


@me_router.post(
    "/password",
    status_code=204,
    responses=responses(401, 422),
    summary="Đổi mật khẩu của mình (mọi phiên và mã đã cấp kết thúc)",
)
def change_password(body: PasswordChangeIn, db: DbSession, scope: CurrentScope) -> Response:
    accounts.change_own_password(db, scope, body.current, body.new, datetime.now(UTC))
    return Response(status_code=204)
