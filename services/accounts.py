"""Accounts (tài khoản): sign-in with a password, resolved to the one ``Scope`` every adapter
checks (services/scope.py), so a page and an API call are allowed exactly the same things;
staff accounts (role ``employee``) made by HR with a one-time code, and password changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Invalid, NotFound
from services.scope import Scope, subtree_units
from store.models import Employee, Unit, User
from store.users import UserError, authenticate, create_staff, password_matches, set_password

__all__ = ["authenticate", "change_password", "create_staff_account", "create_staff_for_unit"]

MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class StaffAccount:
    """A staff account just made: the code to hand over (shown once), or why none was made."""

    employee_code: str
    full_name: str
    username: str | None
    one_time_code: str | None
    problem: str | None = None


def create_staff_account(
    db: DbSession, scope: Scope, employee_code: str, now: datetime
) -> StaffAccount:
    """An account for one person in scope; ``Invalid`` if they already have one."""
    scope.require("staff:accounts")
    employee = db.scalar(select(Employee).where(Employee.code == employee_code))
    if employee is None or not scope.sees(employee.unit_id):
        raise NotFound("Cán bộ")
    try:
        user, code = create_staff(db, employee, now)
    except UserError as exc:
        raise Invalid("account_exists", str(exc)) from exc
    return StaffAccount(employee.code, employee.full_name, user.username, code)


def create_staff_for_unit(
    db: DbSession, scope: Scope, unit_code: str, now: datetime
) -> list[StaffAccount]:
    """Accounts for every active person of a unit and its sub-units who has none yet."""
    scope.require("staff:accounts")
    units = [u for u in db.scalars(select(Unit).where(Unit.code == unit_code)) if scope.sees(u.id)]
    if len(units) != 1:
        raise NotFound("Đơn vị")
    within = subtree_units(db, unit_id=units[0].id)
    has_account = select(User.employee_id).where(User.employee_id.is_not(None))
    people = db.scalars(
        select(Employee)
        .where(
            Employee.unit_id.in_(within),
            Employee.active_to.is_(None) | (Employee.active_to >= now.date()),
            Employee.id.not_in(has_account),
        )
        .order_by(Employee.code)
    )
    made = []
    for person in people:
        try:
            user, code = create_staff(db, person, now)
        except UserError as exc:
            made.append(StaffAccount(person.code, person.full_name, None, None, str(exc)))
            continue
        made.append(StaffAccount(person.code, person.full_name, user.username, code))
    return made


def change_password(
    db: DbSession, user_id: int, current: str, new: str, repeated: str, now: datetime
) -> None:
    """Đổi mật khẩu: the current password (or one-time code), then the new one twice."""
    user = db.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("Tài khoản")
    if not password_matches(user, current):
        raise Invalid("wrong_password", "Mật khẩu hiện tại (hoặc mã dùng một lần) không đúng")
    if len(new) < MIN_PASSWORD:
        raise Invalid("weak_password", f"Mật khẩu mới cần ít nhất {MIN_PASSWORD} ký tự")
    if new != repeated:
        raise Invalid("password_mismatch", "Hai lần nhập mật khẩu mới không giống nhau")
    if new == current:
        raise Invalid("same_password", "Mật khẩu mới phải khác mật khẩu hiện tại")
    set_password(db, user, new, now)
