"""Who may do what (quyền) and over which units (phạm vi): one table, one resolver."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Forbidden, NotFound
from store.models import Agency, Unit, User

PERMISSIONS: dict[str, frozenset[str]] = {
    "violations:read": frozenset({"unit_head", "noi_vu", "admin", "auditor"}),
    "violations:review": frozenset({"unit_head", "admin"}),
    "excuses:read": frozenset({"unit_head", "noi_vu", "hr_clerk", "admin", "auditor"}),
    "excuses:write": frozenset({"unit_head", "hr_clerk", "admin"}),
    "excuses:import": frozenset({"hr_clerk", "admin"}),
    "summaries:read": frozenset({"unit_head", "noi_vu", "admin", "auditor"}),
    "devices:read": frozenset({"admin", "auditor"}),
    "devices:write": frozenset({"admin"}),
    # Unknown cards and enrolment numbers: HR registers them, auditors read them.
    "credentials:read": frozenset({"hr_clerk", "admin", "auditor"}),
    "credentials:write": frozenset({"hr_clerk", "admin"}),
    "users:admin": frozenset({"admin"}),
    "rules:read": frozenset({"hr_clerk", "admin"}),
    "rules:write": frozenset({"admin"}),
    "roster:read": frozenset({"unit_head", "noi_vu", "hr_clerk", "admin", "auditor"}),
    "roster:write": frozenset({"hr_clerk", "admin"}),
    "notifications:admin": frozenset({"admin"}),
    # Self-service: a member of staff reads only their own record and sends requests.
    "staff:accounts": frozenset({"hr_clerk", "admin"}),
    "self:read": frozenset({"employee"}),
    "requests:create": frozenset({"employee"}),
    "requests:read": frozenset({"unit_head", "admin", "auditor"}),
    "requests:decide": frozenset({"unit_head", "admin"}),
}


@dataclass(frozen=True, slots=True)
class Scope:
    """The signed-in user, their role and the units they may see (None: every unit).

    A member of staff (role ``employee``) sees no unit: only the person ``employee_id``."""

    user_id: int
    username: str
    role: str
    unit_ids: frozenset[int] | None
    employee_id: int | None = None

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    def require(self, permission: str) -> Scope:
        """Raise ``Forbidden`` unless the role holds ``permission``; return self to chain."""
        if not self.may(permission):
            raise Forbidden()
        return self

    def sees(self, unit_id: int) -> bool:
        return self.unit_ids is None or unit_id in self.unit_ids


def subtree_units(
    db: DbSession, *, unit_id: int | None = None, agency_id: int | None = None
) -> frozenset[int]:
    """A unit and its descendants, or every unit of an agency and of its sub-agencies.

    Walked in SQL (a recursive query over ``parent_id``): only the subtree's ids come back,
    not every unit of the country on each request. UNION, not UNION ALL: a loop in the
    parents ends instead of running forever."""
    if unit_id is not None:
        tree = select(Unit.id).where(Unit.id == unit_id).cte("tree", recursive=True)
        tree = tree.union(select(Unit.id).join(tree, Unit.parent_id == tree.c.id))
        return frozenset({unit_id, *db.scalars(select(tree.c.id))})  # as asked, found or not
    if agency_id is None:
        return frozenset()
    within = select(Agency.id).where(Agency.id == agency_id).cte("within", recursive=True)
    within = within.union(select(Agency.id).join(within, Agency.parent_id == within.c.id))
    return frozenset(db.scalars(select(Unit.id).where(Unit.agency_id.in_(select(within.c.id)))))


def scope_of(db: DbSession, user: User) -> Scope:
    if user.role == "employee":
        return Scope(user.id, user.username, user.role, frozenset(), user.employee_id)
    if user.role == "admin":
        units = None
    elif user.role == "unit_head":
        units = subtree_units(db, unit_id=user.unit_id)
    elif user.agency_id is not None:
        units = subtree_units(db, agency_id=user.agency_id)
    else:
        units = None  # a province-wide Nội vụ office or auditor
    return Scope(user.id, user.username, user.role, units)


def units_filter(db: DbSession, scope: Scope, unit_id: int | None) -> frozenset[int] | None:
    """The units a query covers: the caller's scope, or one unit's subtree inside it."""
    if unit_id is None:
        return scope.unit_ids
    if not scope.sees(unit_id):
        raise NotFound("Đơn vị")
    return subtree_units(db, unit_id=unit_id)
