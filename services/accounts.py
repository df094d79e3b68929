"""Accounts (tài khoản, người dùng): sign-in with a password, resolved to the one ``Scope``
every adapter checks, and their administration by admins (quản trị): list, create, lock and
unlock, reset a password, change role and scope. Every change is kept in ``user_events``
(who, when, before, after), and no change may leave the system without an active admin.

Staff accounts (role ``employee``, cán bộ, công chức) are made by HR from the roster, one per
person and named by the employee code, with a one-time password that must be changed at the
first sign-in (the same Đổi mật khẩu as after an admin's reset); they are recorded the same way.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Conflict, Invalid, NotFound
from kycuong.inputs import name_text, plain, quoted
from kycuong.labels import ROLE
from services.scope import Scope, subtree_units
from store.models import Agency, Employee, Unit, User, UserEvent
from store.users import authenticate as authenticate
from store.users import hash_password, password_matches

ROLES: tuple[str, ...] = tuple(ROLE)
STAFF_ROLE = "employee"
# The roles an admin gives by hand; a staff account comes from the roster (create_staff_account).
ASSIGNABLE: dict[str, str] = {code: label for code, label in ROLE.items() if code != STAFF_ROLE}
MIN_PASSWORD = 8
MAX_PASSWORD = 256
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")
WHOLE_SYSTEM = "Toàn hệ thống"
OWN_RECORD = "Chỉ hồ sơ của bản thân"
ACTIONS = {
    "created": "Tạo tài khoản",
    "disabled": "Khóa tài khoản",
    "enabled": "Mở khóa tài khoản",
    "password_reset": "Cấp lại mật khẩu",
    "password_changed": "Tự đổi mật khẩu",
    "assigned": "Đổi vai trò, phạm vi",
}
# Letters and digits that cannot be mistaken for one another when read aloud or copied.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True, slots=True)
class Account:
    """A user as admins see it; ``scope_label`` names the unit or agency (or the whole system)."""

    id: int
    username: str
    full_name: str
    role: str
    role_label: str
    unit_id: int | None
    agency_id: int | None
    scope_label: str
    active: bool
    must_change_password: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """One recorded change, described for people (e.g. "Vai trò: Nội vụ → Quản trị hệ thống")."""

    at: datetime
    actor: str
    action: str
    action_label: str
    changes: list[str]


@dataclass(frozen=True, slots=True)
class AccountDetail:
    account: Account
    history: list[AccountEvent]


@dataclass(frozen=True, slots=True)
class Assignment:
    """A role and where it applies: a unit for a unit head; an agency, or none (every unit),
    for Nội vụ, HR clerks and auditors; nothing for admins, who see everything."""

    role: str
    unit_id: int | None = None
    agency_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewAccount:
    username: str
    full_name: str
    assignment: Assignment
    password: str | None = None  # None: a one-time password is made and shown once
    must_change: bool = True


@dataclass(frozen=True, slots=True)
class Issued:
    """An account and the password made for it, to show once (None when the admin typed it)."""

    account: Account
    password: str | None


@dataclass(frozen=True, slots=True)
class AccountQuery:
    text: str | None = None
    role: str | None = None
    active: bool | None = None
    limit: int = 500


@dataclass(frozen=True, slots=True)
class Place:
    """A unit or an agency to choose as a scope."""

    id: int
    name: str
    agency_name: str = ""


def role_of(text: str) -> str:
    """A role as people give it: its code or its Vietnamese label (with or without marks)."""
    wanted = plain(text)
    for code, label in ROLE.items():
        if wanted in (plain(code), plain(label)):
            return code
    accepted = "; ".join(f"{label} ({code})" for code, label in ROLE.items())
    raise Invalid(
        "invalid_role", f"Vai trò không hợp lệ: “{quoted(text)}”. Chọn một trong: {accepted}"
    )


def one_time_password() -> str:
    """Twelve characters in three groups (about 59 bits), easy to read out and type."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid("weak_password", f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự")
    if len(password) > MAX_PASSWORD:
        raise Invalid("long_password", f"Mật khẩu không quá {MAX_PASSWORD} ký tự")


def _names(db: DbSession) -> tuple[dict[int, str], dict[int, tuple[str, int]]]:
    agencies: dict[int, str] = {
        aid: name for aid, name in db.execute(select(Agency.id, Agency.name))
    }
    units = {
        uid: (name, aid)
        for uid, name, aid in db.execute(select(Unit.id, Unit.name, Unit.agency_id))
    }
    return agencies, units


def _scope_label(user: User, agencies: dict[int, str], units: dict[int, tuple[str, int]]) -> str:
    if user.role == STAFF_ROLE:
        return OWN_RECORD
    if user.role == "unit_head" and user.unit_id in units:
        name, agency_id = units[user.unit_id]
        return f"{name} ({agencies.get(agency_id, '')})"
    if user.role != "admin" and user.agency_id in agencies:
        return agencies[user.agency_id]
    return WHOLE_SYSTEM


def _account(user: User, names: tuple[dict[int, str], dict[int, tuple[str, int]]]) -> Account:
    return Account(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        role_label=ROLE.get(user.role, user.role),
        unit_id=user.unit_id,
        agency_id=user.agency_id,
        scope_label=_scope_label(user, *names),
        active=user.active,
        must_change_password=user.must_change_password,
        created_at=user.created_at,
    )


def _snapshot(user: User, names: tuple[dict[int, str], dict[int, tuple[str, int]]]) -> str:
    return json.dumps(
        {
            "role": user.role,
            "unit_id": user.unit_id,
            "agency_id": user.agency_id,
            "scope": _scope_label(user, *names),
            "active": user.active,
            "must_change_password": user.must_change_password,
        },
        ensure_ascii=False,
    )


def _record(
    db: DbSession, user: User, actor: str, action: str, before: str | None, now: datetime
) -> None:
    after = _snapshot(user, _names(db))
    db.add(
        UserEvent(user_id=user.id, at=now, actor=actor, action=action, before=before, after=after)
    )


def _load(db: DbSession, scope: Scope, user_id: int) -> User:
    scope.require("users:admin")
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("Người dùng")
    return user


def _guard_last_admin(db: DbSession, user: User, what: str) -> None:
    """Refuse a change that would leave no active admin (locking the admins' rows in order,
    so two admins demoting each other at once cannot both succeed)."""
    if user.role != "admin" or not user.active:
        return
    admins = db.scalars(
        select(User.id)
        .where(User.role == "admin", User.active.is_(True))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if all(admin == user.id for admin in admins):
        raise Conflict(
            "last_admin",
            f"Không thể {what}: “{quoted(user.username)}” là quản trị viên cuối cùng còn "
            "hoạt động. "
            "Hãy tạo hoặc mở khóa một quản trị viên khác trước.",
        )


def _placed(db: DbSession, assignment: Assignment) -> Assignment:
    """The assignment as stored: the scope its role uses, checked to exist."""
    role = assignment.role if assignment.role in ROLES else role_of(assignment.role)
    if role == STAFF_ROLE:
        raise Invalid(
            "staff_role",
            "Tài khoản cán bộ, công chức được tạo từ danh sách cán bộ "
            "(kycuong users create-staff), không chọn vai trò này ở đây",
        )
    if role == "admin":
        return Assignment(role)
    if role == "unit_head":
        unit = db.get(Unit, assignment.unit_id) if assignment.unit_id is not None else None
        if unit is None:
            raise Invalid("unit_required", "Trưởng đơn vị cần chọn đơn vị phụ trách")
        return Assignment(role, unit_id=unit.id, agency_id=unit.agency_id)
    if assignment.agency_id is not None and db.get(Agency, assignment.agency_id) is None:
        raise NotFound("Cơ quan")
    return Assignment(role, agency_id=assignment.agency_id)


def listing(db: DbSession, scope: Scope, query: AccountQuery) -> list[Account]:
    """Users by username; ``text`` matches the username or the full name."""
    scope.require("users:admin")
    sql = select(User)
    if query.text:
        pattern = f"%{query.text.strip().lower()}%"
        sql = sql.where(
            or_(func.lower(User.username).like(pattern), func.lower(User.full_name).like(pattern))
        )
    if query.role is not None:
        sql = sql.where(User.role == query.role)
    if query.active is not None:
        sql = sql.where(User.active.is_(query.active))
    names = _names(db)
    users = db.scalars(sql.order_by(User.username).limit(query.limit))
    return [_account(user, names) for user in users]


def _describe(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = []
    if before.get("role") != after.get("role"):
        old, new = ROLE.get(before.get("role", ""), "—"), ROLE.get(after["role"], after["role"])
        changes.append(f"Vai trò: {old} → {new}")
    if before.get("scope") != after.get("scope"):
        changes.append(f"Phạm vi: {before.get('scope', '—')} → {after.get('scope')}")
    if before.get("active") != after.get("active"):
        state = {True: "Đang hoạt động", False: "Đã khóa", None: "—"}
        changes.append(f"Trạng thái: {state[before.get('active')]} → {state[after['active']]}")
    if not before.get("must_change_password") and after.get("must_change_password"):
        changes.append("Phải đổi mật khẩu khi đăng nhập lần sau")
    return changes


def detail(db: DbSession, scope: Scope, user_id: int) -> AccountDetail:
    """One user and the history of changes to the account, newest first."""
    user = _load(db, scope, user_id)
    events = db.scalars(
        select(UserEvent)
        .where(UserEvent.user_id == user.id)
        .order_by(UserEvent.at.desc(), UserEvent.id.desc())
    )
    history = [
        AccountEvent(
            at=e.at,
            actor=e.actor,
            action=e.action,
            action_label=ACTIONS.get(e.action, e.action),
            changes=_describe(json.loads(e.before or "{}"), json.loads(e.after or "{}")),
        )
        for e in events
    ]
    return AccountDetail(_account(user, _names(db)), history)


def create(db: DbSession, scope: Scope, new: NewAccount, now: datetime) -> Issued:
    """A new account; without a typed password a one-time one is made (shown once)."""
    scope.require("users:admin")
    username = new.username.strip()
    if not USERNAME.match(username):
        raise Invalid(
            "invalid_username",
            "Tên đăng nhập gồm 3–64 ký tự: chữ không dấu, số, dấu chấm, gạch dưới hoặc gạch ngang",
        )
    full_name = name_text(new.full_name, "Họ tên")
    assignment = _placed(db, new.assignment)
    password = new.password or one_time_password()
    _check_password(password)
    user = User(
        username=username,
        full_name=full_name[:255],
        password_hash=hash_password(password),
        role=assignment.role,
        unit_id=assignment.unit_id,
        agency_id=assignment.agency_id,
        active=True,
        created_at=now,
        must_change_password=new.must_change or not new.password,
    )
    db.add(user)
    try:  # the unique index decides, not a look-up first; the caller's transaction ends
        db.flush()
    except IntegrityError as exc:
        raise Conflict(
            "username_taken", f"Tên đăng nhập “{quoted(username)}” đã được dùng"
        ) from exc
    _record(db, user, scope.username, "created", None, now)
    return Issued(_account(user, _names(db)), None if new.password else password)


def set_active(db: DbSession, scope: Scope, user_id: int, active: bool, now: datetime) -> Account:
    """Lock (khóa) or unlock (mở khóa); a lock ends the user's sessions and tokens at once."""
    user = _load(db, scope, user_id)
    if user.active == active:
        return _account(user, _names(db))
    if not active:
        _guard_last_admin(db, user, "khóa tài khoản này")
    before = _snapshot(user, _names(db))
    user.active = active
    if not active:
        user.tokens_valid_after = now
    _record(db, user, scope.username, "enabled" if active else "disabled", before, now)
    return _account(user, _names(db))


def reset_password(
    db: DbSession,
    scope: Scope,
    user_id: int,
    now: datetime,
    password: str | None = None,
    must_change: bool = True,
) -> Issued:
    """A new password for someone who lost theirs (one-time when not typed, shown once); their
    open sessions end, and they choose their own at the next sign-in when ``must_change``."""
    user = _load(db, scope, user_id)
    if user.id == scope.user_id:
        raise Invalid("own_password", "Để đổi mật khẩu của chính mình, hãy dùng trang Đổi mật khẩu")
    new = password or one_time_password()
    _check_password(new)
    before = _snapshot(user, _names(db))
    user.password_hash = hash_password(new)
    user.must_change_password = must_change or not password
    user.tokens_valid_after = now
    _record(db, user, scope.username, "password_reset", before, now)
    return Issued(_account(user, _names(db)), None if password else new)


def assign(
    db: DbSession, scope: Scope, user_id: int, assignment: Assignment, now: datetime
) -> Account:
    """Change a user's role and scope; effective at their next request."""
    user = _load(db, scope, user_id)
    if user.role == STAFF_ROLE:
        raise Invalid(
            "staff_account",
            "Tài khoản cán bộ, công chức chỉ xem hồ sơ của chính người đó; "
            "muốn giao vai trò khác, hãy tạo một tài khoản riêng",
        )
    placed = _placed(db, assignment)
    if placed.role != "admin":
        _guard_last_admin(db, user, "bỏ vai trò quản trị của tài khoản này")
    if (placed.role, placed.unit_id, placed.agency_id) == (user.role, user.unit_id, user.agency_id):
        return _account(user, _names(db))
    before = _snapshot(user, _names(db))
    user.role, user.unit_id, user.agency_id = placed.role, placed.unit_id, placed.agency_id
    _record(db, user, scope.username, "assigned", before, now)
    return _account(user, _names(db))


def change_own_password(db: DbSession, scope: Scope, current: str, new: str, now: datetime) -> None:
    """A signed-in user's own new password; every session before ``now`` ends (sign in again,
    or let the page issue a new session)."""
    user = db.get(User, scope.user_id)
    if user is None or not user.active:
        raise NotFound("Người dùng")
    if not password_matches(user, current):
        raise Invalid("wrong_password", "Mật khẩu hiện tại không đúng")
    _check_password(new)
    if new == current:
        raise Invalid("same_password", "Mật khẩu mới phải khác mật khẩu hiện tại")
    before = _snapshot(user, _names(db))
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.tokens_valid_after = now
    _record(db, user, scope.username, "password_changed", before, now)


@dataclass(frozen=True, slots=True)
class StaffAccount:
    """A staff account just made: the one-time password to hand over (shown once), or why
    none was made."""

    employee_code: str
    full_name: str
    username: str | None
    one_time_code: str | None
    problem: str | None = None


def _new_staff(db: DbSession, scope: Scope, employee: Employee, now: datetime) -> StaffAccount:
    """An account (role ``employee``) for one person, named by their employee code, with a
    one-time password to change at the first sign-in; ``Invalid`` if they already have one."""
    if db.scalar(select(User.id).where(User.employee_id == employee.id)) is not None:
        raise Invalid("account_exists", f"Cán bộ {employee.code} đã có tài khoản")
    if db.scalar(select(User.id).where(User.username == employee.code)) is not None:
        raise Invalid("username_taken", f"Tên đăng nhập {employee.code} đã được dùng")
    password = one_time_password()
    user = User(
        username=employee.code,
        full_name=employee.full_name[:255],
        password_hash=hash_password(password),
        role=STAFF_ROLE,
        unit_id=None,
        agency_id=None,
        employee_id=employee.id,
        active=True,
        created_at=now,
        must_change_password=True,
    )
    db.add(user)
    db.flush()
    _record(db, user, scope.username, "created", None, now)
    return StaffAccount(employee.code, employee.full_name, user.username, password)


def create_staff_account(
    db: DbSession, scope: Scope, employee_code: str, now: datetime
) -> StaffAccount:
    """An account for one person in scope; ``Invalid`` if they already have one."""
    scope.require("staff:accounts")
    employee = db.scalar(select(Employee).where(Employee.code == employee_code))
    if employee is None or not scope.sees(employee.unit_id):
        raise NotFound("Cán bộ")
    return _new_staff(db, scope, employee, now)


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
    ).all()
    made = []
    for person in people:
        try:
            made.append(_new_staff(db, scope, person, now))
        except Invalid as exc:
            made.append(StaffAccount(person.code, person.full_name, None, None, exc.message))
    return made


def must_change_password(db: DbSession, user_id: int) -> bool:
    return bool(db.scalar(select(User.must_change_password).where(User.id == user_id)))


def places(db: DbSession, scope: Scope) -> tuple[list[Place], list[Place]]:
    """The agencies and the units an admin may choose as a scope, by name."""
    scope.require("users:admin")
    agencies, units = _names(db)
    return (
        sorted((Place(aid, name) for aid, name in agencies.items()), key=lambda p: p.name),
        sorted(
            (Place(uid, name, agencies.get(aid, "")) for uid, (name, aid) in units.items()),
            key=lambda p: (p.agency_name, p.name),
        ),
    )


def find_user(db: DbSession, scope: Scope, username: str) -> Account:
    scope.require("users:admin")
    user = db.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"Người dùng “{quoted(username)}”")
    return _account(user, _names(db))


def agency_by_code(db: DbSession, code: str) -> int:
    found = db.scalar(select(Agency.id).where(Agency.code == code))
    if found is None:
        raise NotFound(f"Cơ quan “{quoted(code)}”")
    return found


def unit_by_code(db: DbSession, code: str, agency_code: str | None = None) -> int:
    """A unit by its code (and its agency's code when two agencies use the same unit code)."""
    query = select(Unit.id).where(Unit.code == code)
    if agency_code is not None:
        query = query.where(Unit.agency_id == agency_by_code(db, agency_code))
    found = list(db.scalars(query))
    if not found:
        raise NotFound(f"Đơn vị “{quoted(code)}”")
    if len(found) > 1:
        raise Invalid(
            "ambiguous_unit", f"Có nhiều đơn vị mã “{quoted(code)}”: hãy cho biết mã cơ quan"
        )
    return found[0]
