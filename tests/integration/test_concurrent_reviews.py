"""Two copies of one decision sent at the same moment (a double click on Xác nhận, two tabs)
on a violation nobody has decided yet: exactly one decision is written, on PostgreSQL and on
SQLite, and both requests answer without an error.

The two requests run in two threads, each with its own database session. An engine hook
holds each request just before it writes its decision until the other request has either
reached the same point (both have read "chưa xử lý": without a lock, both write) or is
waiting for the person's lock (the lock works: it will read the first decision once the
first request commits). No sleeps, no timed assertions: the hook waits on events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from kycuong.settings import Settings
from services import violations as violation_service
from services.schemas import ReviewIn
from services.scope import scope_of
from store import violations as violation_store
from store.db import db_session
from store.models import Review, ReviewState, User
from tests.integration.test_api import World, build_world
from tests.support import free_port

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
# Long enough never to be reached on a loaded machine; a broken lock fails by assertion first.
NEVER = 60.0


class Rendezvous:
    """Where the two requests wait for each other (see the module's docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.at_write: set[int] = set()  # threads about to write their decision
        self.holding: set[int] = set()  # threads asking for the person's lock
        self.done: set[int] = set()
        self.threads: list[int] = []

    def _other(self) -> int | None:
        me = threading.get_ident()
        others = [t for t in self.threads if t != me]
        return others[0] if others else None

    def _other_may_go(self) -> bool:
        other = self._other()
        return other is None or other in self.at_write | self.holding | self.done

    def before_write(self) -> None:
        with self.lock:
            self.at_write.add(threading.get_ident())
            self.lock.notify_all()
            assert self.lock.wait_for(self._other_may_go, NEVER), "the other request vanished"

    def asking(self, started: bool) -> None:
        with self.lock:
            (self.holding.add if started else self.holding.discard)(threading.get_ident())
            self.lock.notify_all()

    def finished(self) -> None:
        with self.lock:
            self.done.add(threading.get_ident())
            self.lock.notify_all()


def world_on(engine: Engine) -> World:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        mqtt_port=free_port(),
        api_secret="test-secret-of-at-least-thirty-two-bytes",
    )
    return build_world(engine, settings)


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    name = "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    yield request.getfixturevalue(name)


def decide_twice_at_once(
    world: World, violation: int, decisions: tuple[ReviewIn, ReviewIn], meet: Rendezvous
) -> list[BaseException | None]:
    """Each decision in its own thread and session, both started together."""
    with db_session(world.engine) as db:
        user = db.scalars(select(User).where(User.username == "head_a1")).one()
        scope = scope_of(db, user)
    outcome: list[BaseException | None] = [None, None]
    start = threading.Barrier(2)

    def send(i: int) -> None:
        start.wait()
        try:
            with db_session(world.engine) as db:
                violation_service.review(db, scope, violation, decisions[i], NOW)
        except BaseException as exc:  # reported by the test, not lost in the thread
            outcome[i] = exc
        finally:
            meet.finished()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    meet.threads = [t.ident for t in threads if t.ident is not None]
    with meet.lock:
        meet.lock.notify_all()
    for t in threads:
        t.join(NEVER)
        assert not t.is_alive(), "a request never finished"
    return outcome


@pytest.fixture
def meet(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rendezvous]:
    """The rendezvous, hooked into the engine (the decision's INSERT) and the person's lock."""
    rendezvous = Rendezvous()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO REVIEWS"):
            rendezvous.before_write()

    real_hold = violation_store.hold_person

    def hold(*args: Any) -> None:
        rendezvous.asking(True)
        try:
            real_hold(*args)
        finally:
            rendezvous.asking(False)

    monkeypatch.setattr(violation_store, "hold_person", hold)
    event.listen(engine, "before_cursor_execute", before)
    yield rendezvous
    event.remove(engine, "before_cursor_execute", before)


def decisions_of(engine: Engine, violation: int) -> list[tuple[str, str | None]]:
    with db_session(engine) as db:
        v = violation_store.get_violation(db, violation, None)
        assert v is not None
        rows = db.execute(
            select(Review.decision, Review.previous_decision)
            .where(
                Review.employee_id == v.employee_id,
                Review.day == v.day,
                Review.session == v.session,
                Review.kind == v.kind,
            )
            .order_by(Review.id)
        ).all()
        return [(d, p) for d, p in rows]


def test_a_double_click_on_a_never_decided_violation_writes_one_decision(
    engine: Engine, meet: Rendezvous
) -> None:
    world = world_on(engine)
    late = world.violation_id("e1", "late")
    same = ReviewIn(decision="excused", reason_kind="business_trip", note="Họp tại UBND tỉnh")
    errors = decide_twice_at_once(world, late, (same, same), meet)
    assert errors == [None, None], errors
    assert decisions_of(engine, late) == [("excused", None)]
    with db_session(engine) as db:
        assert db.scalar(select(func.count()).select_from(ReviewState)) == 1


def test_two_different_decisions_at_once_are_written_one_after_the_other(
    engine: Engine, meet: Rendezvous
) -> None:
    """Xác nhận in one tab, Bỏ qua in another: both kept, the second knowing the first (its
    "before" is the first decision, never "Chưa xử lý" twice)."""
    world = world_on(engine)
    late = world.violation_id("e1", "late")
    confirm, dismiss = ReviewIn(decision="confirmed"), ReviewIn(decision="dismissed")
    errors = decide_twice_at_once(world, late, (confirm, dismiss), meet)
    assert errors == [None, None], errors
    written = decisions_of(engine, late)
    assert len(written) == 2 and written[0][1] is None, written
    assert written[1][1] == written[0][0], written
