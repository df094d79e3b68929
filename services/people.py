"""People (cán bộ) a reviewer may pick in a filter: every person of the units in scope, or
those whose name or code matches what was typed (with or without diacritics)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import NotFound
from services.scope import Scope
from store.models import Employee, Unit

# Up to this many people in scope, a page offers them all in one list (a unit head's units);
# beyond it (Nội vụ of a province), a search by name or code.
LIST_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    code: str
    name: str
    unit_name: str


def _person(row: Any) -> Person:
    return Person(row[0], row[1], row[2], row[3])


def fold(text: str) -> str:
    """Lower case without diacritics ("Trần Văn Đức" → "tran van duc"), to match what people
    type on a phone keyboard without Vietnamese input."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def _query(scope: Scope) -> Select[int, str, str, str]:
    query = (
        select(Employee.id, Employee.code, Employee.full_name, Unit.name)
        .join(Unit, Unit.id == Employee.unit_id)
        .order_by(Unit.name, Employee.full_name, Employee.code)
    )
    if scope.unit_ids is not None:
        query = query.where(Employee.unit_id.in_(sorted(scope.unit_ids)))
    return query


def choices(db: DbSession, scope: Scope) -> list[Person] | None:
    """Everyone in scope by unit and name, or None when there are more than ``LIST_LIMIT``."""
    scope.require("violations:read")
    rows = db.execute(_query(scope).limit(LIST_LIMIT + 1)).all()
    if len(rows) > LIST_LIMIT:
        return None
    return [_person(row) for row in rows]


def search(db: DbSession, scope: Scope, text: str, limit: int = 30) -> list[Person]:
    """People in scope whose code or name contains ``text`` (diacritics optional), by name."""
    scope.require("violations:read")
    wanted = fold(text)
    if not wanted:
        return []
    found = []
    for row in db.execute(_query(scope)):
        if fold(row.code) == wanted:  # an exact code is that one person
            return [_person(row)]
        if wanted in fold(row.code) or wanted in fold(row.full_name):
            found.append(_person(row))
            if len(found) >= limit:
                break
    return found


def one(db: DbSession, scope: Scope, employee_id: int) -> Person:
    """One person in scope (``NotFound`` otherwise: the same answer as a person who is not)."""
    scope.require("violations:read")
    row = db.execute(_query(scope).where(Employee.id == employee_id)).first()
    if row is None:
        raise NotFound("Cán bộ")
    return _person(row)
