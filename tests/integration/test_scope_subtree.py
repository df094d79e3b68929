"""The units a scope covers (phạm vi), walked in SQL: a unit's subtree, an agency's units with
its sub-agencies', on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, update

from services.scope import subtree_units
from store.db import db_session
from store.models import Agency, Unit


def _tree(engine: Engine) -> dict[str, int]:
    """Sở A (units A1 ⊃ A1a ⊃ A1a1, A2) with a sub-agency Phòng B (unit B1); Sở C (C1)."""
    ids: dict[str, int] = {}
    with db_session(engine) as db:
        a = Agency(code="A", name="Sở A")
        c = Agency(code="C", name="Sở C")
        db.add_all([a, c])
        db.flush()
        b = Agency(code="B", name="Phòng B", parent_id=a.id)
        db.add(b)
        db.flush()

        def unit(code: str, agency: Agency, parent: str | None = None) -> None:
            row = Unit(
                agency_id=agency.id,
                code=code,
                name=f"Đơn vị {code}",
                parent_id=ids[parent] if parent else None,
            )
            db.add(row)
            db.flush()
            ids[code] = row.id

        unit("A1", a)
        unit("A1a", a, "A1")
        unit("A1a1", a, "A1a")
        unit("A2", a)
        unit("B1", b)
        unit("C1", c)
        ids.update(agency_a=a.id, agency_b=b.id, agency_c=c.id)
    return ids


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: Any) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    found: Engine = request.getfixturevalue(name)
    return found


def test_a_unit_covers_itself_and_every_unit_beneath_it(engine: Engine) -> None:
    ids = _tree(engine)
    with db_session(engine) as db:
        assert subtree_units(db, unit_id=ids["A1"]) == {ids["A1"], ids["A1a"], ids["A1a1"]}
        assert subtree_units(db, unit_id=ids["A1a1"]) == {ids["A1a1"]}
        assert subtree_units(db, unit_id=ids["A2"]) == {ids["A2"]}


def test_an_agency_covers_its_units_and_its_sub_agencies_units(engine: Engine) -> None:
    ids = _tree(engine)
    with db_session(engine) as db:
        assert subtree_units(db, agency_id=ids["agency_a"]) == {
            ids[c] for c in ("A1", "A1a", "A1a1", "A2", "B1")
        }
        assert subtree_units(db, agency_id=ids["agency_b"]) == {ids["B1"]}
        assert subtree_units(db, agency_id=ids["agency_c"]) == {ids["C1"]}


def test_a_loop_in_the_parents_ends(engine: Engine) -> None:
    ids = _tree(engine)
    with db_session(engine) as db:  # A1 made a child of its own grandchild by mistake
        db.execute(update(Unit).where(Unit.id == ids["A1"]).values(parent_id=ids["A1a1"]))
    with db_session(engine) as db:
        assert subtree_units(db, unit_id=ids["A1a"]) == {ids["A1"], ids["A1a"], ids["A1a1"]}


def test_a_unit_not_found_covers_only_its_own_id(engine: Engine) -> None:
    _tree(engine)
    with db_session(engine) as db:
        assert subtree_units(db, unit_id=999_999) == {999_999}
