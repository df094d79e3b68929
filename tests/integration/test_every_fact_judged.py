"""Every committed fact is judged: a punch committed while a runner holds its key is
recomputed after its commit, whatever the interleaving of ingest and runners (PostgreSQL)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from ingest.pipeline import DeviceDirectory, Message, process_batch
from runner.directory import RulesDirectory
from runner.recompute import recompute
from runner.worker import RecomputeWorker
from store.bulk import COPY_FROM_ROWS
from store.db import db_session, session_factory
from store.models import (
    DayRecord,
    Employee,
    Punch,
    RecomputeRequest,
    UnmatchedPunch,
    ViolationRecord,
)
from store.punches import insert_punches, record_unmatched
from store.queue import enqueue, enqueue_for_punches, keys_for_days
from tests.factories import org, punch_payload, punch_row
from tests.integration.test_runner import DAY, FakeClock
from tests.support import wait_for
from tests.unit.days import local


def _punch_row(card: str, event: str, hhmm: str) -> dict[str, object]:
    return punch_row(card, event, local(DAY, hhmm))


def _late(engine: Engine) -> list[tuple[str, int]]:
    with db_session(engine) as db:
        rows = db.execute(
            select(ViolationRecord.kind, ViolationRecord.minutes).where(
                ViolationRecord.active.is_(True), ViolationRecord.kind == "late"
            )
        ).all()
    return [(k, m) for k, m in rows]


def test_a_punch_committed_while_the_runner_holds_its_key_is_judged_after_its_commit(
    pg_engine: Engine,
) -> None:
    made = org(pg_engine, employees=1, devices=("D1",))
    card = made["cards"][0]
    clock = FakeClock(local(DAY, "11:35").astimezone(UTC))
    runner = RecomputeWorker(pg_engine, RulesDirectory(max_age_s=0), clock=clock)
    # The lunch-out 11:31 is stored and queued.
    with db_session(pg_engine) as db:
        enqueue_for_punches(db, insert_punches(db, [_punch_row(card, "lunch", "11:31")]), "punch")
    # A second batch with the 07:50 arrival: inserted and enqueued, not yet committed.
    ingest = session_factory(pg_engine)()
    with ingest.begin():
        inserted = insert_punches(ingest, [_punch_row(card, "arrival", "07:50")])
        record_unmatched(ingest, inserted)
        enqueue_for_punches(ingest, inserted, "punch")
        # The runner drains meanwhile: it judges the day without 07:50, which it cannot see.
        assert runner.drain() == 1
        assert _late(pg_engine) == []
    ingest.close()
    # The commit left a request of its own: the day is judged again, with 07:50.
    assert runner.drain() == 1
    assert _late(pg_engine) == [("late", 20)]
    with db_session(pg_engine) as db:
        record = db.scalars(select(DayRecord)).one()
        assert record.first_in == local(DAY, "07:50")
        assert db.scalar(select(func.count()).select_from(RecomputeRequest)) == 0


def test_ingest_and_two_runners_end_where_a_recompute_from_scratch_does(
    pg_engine: Engine,
) -> None:
    """Random batch boundaries on both sides; the stored verdicts must need no change."""
    rng = random.Random(15)
    people = 40
    made = org(pg_engine, employees=people, devices=("D1", "D2"))
    clock = FakeClock(local(DAY, "18:30").astimezone(UTC))
    messages = []
    for i, card in enumerate(made["cards"]):
        times = ["07:20", "11:31", "12:58", "17:02"]
        if i % 4 == 1:
            times[0] = f"07:{40 + i % 20:02d}"  # late
        if i % 7 == 3:
            times.pop()  # missing check-out
        if i % 11 == 5:
            times = []  # absent all day
        for n, hhmm in enumerate(times):
            at = local(DAY, hhmm) + timedelta(seconds=rng.randint(0, 50))
            body = punch_payload(f"D{1 + n % 2}", f"{card}-{n}", card, at)
            messages.append(Message(f"kc/v1/D{1 + n % 2}/punch", body, received_at=clock.now))
    rng.shuffle(messages)
    messages += rng.sample(messages, 30)  # redeliveries

    runners = [
        RecomputeWorker(
            pg_engine, RulesDirectory(max_age_s=0), clock=clock, batch=size, idle_s=0.005
        )
        for size in (3, 7)
    ]
    for runner in runners:
        runner.start()
    devices = DeviceDirectory(pg_engine)
    with db_session(pg_engine) as db:  # everyone once, so the absent are judged too
        enqueue(db, keys_for_days(db, DAY, DAY), "test")

    def ingest(part: list[Message]) -> None:
        position = 0
        while position < len(part):
            size = rng.randint(1, 12)
            process_batch(pg_engine, part[position : position + size], devices, timedelta(hours=1))
            position += size

    halves = [messages[::2], messages[1::2]]
    writers = [threading.Thread(target=ingest, args=(half,)) for half in halves]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    def queue_empty() -> bool:
        with db_session(pg_engine) as db:
            return db.scalar(select(func.count()).select_from(RecomputeRequest)) == 0

    wait_for(queue_empty, 60, "the runners to drain the queue")
    for runner in runners:
        runner.stop()
    assert all(r.recomputed > 0 for r in runners), "both runners took part"

    with db_session(pg_engine) as db:
        everyone = keys_for_days(db, DAY, DAY)
        stats = recompute(db, everyone, clock.now, RulesDirectory(max_age_s=0), trigger="check")
        assert stats.keys == people
        assert (stats.detected, stats.updated, stats.withdrawn, stats.restored) == (0, 0, 0, 0)
        assert stats.day_records == 0
        assert db.scalar(select(func.count()).select_from(DayRecord)) == people
        late = db.scalar(
            select(func.count())
            .select_from(ViolationRecord)
            .join(Employee, Employee.id == ViolationRecord.employee_id)
            .where(ViolationRecord.kind == "late", ViolationRecord.active.is_(True))
        )
    expected_late = sum(1 for i in range(people) if i % 4 == 1 and i % 11 != 5)
    assert late == expected_late


def test_a_large_batch_across_months_is_stored_once_unmatched_marked_and_every_key_queued(
    pg_engine: Engine,
) -> None:
    """The copy path (a batch of at least ``COPY_FROM_ROWS`` new punches): every punch
    stored once, the unknown cards marked unmatched, one request per (person, local day)
    in two months, and the same batch again changes nothing."""
    cards = org(pg_engine, employees=20)["cards"]
    received = datetime.now(UTC)
    # 01:30 UTC is 08:30 in Hà Nội: each instant's local day is its UTC day.
    days = [(received - timedelta(days=d)).replace(hour=1, minute=30) for d in (1, 40)]
    messages = []
    for n in range(2 * COPY_FROM_ROWS):
        at = days[n % 2] + timedelta(seconds=n)
        card = cards[n % 20] if n % 10 else f"X{n:05d}"  # every tenth card is nobody's
        messages.append(
            Message(
                topic="kc/v1/D1/punch",
                payload=punch_payload("D1", f"big-{n}", card, at),
                received_at=received,
            )
        )
    directory = DeviceDirectory(pg_engine)
    first = process_batch(pg_engine, messages, directory, timedelta(minutes=5))
    again = process_batch(pg_engine, messages, directory, timedelta(minutes=5))
    unknown = sum(1 for n in range(2 * COPY_FROM_ROWS) if n % 10 == 0)
    people_days = {(cards[n % 20], days[n % 2].date()) for n in range(2 * COPY_FROM_ROWS) if n % 10}
    assert (first.stored, first.duplicates, first.unmatched) == (len(messages), 0, unknown)
    assert first.keys == len(people_days)
    assert (again.stored, again.duplicates, again.unmatched, again.keys) == (
        0,
        len(messages),
        0,
        0,
    )
    with db_session(pg_engine) as db:
        assert db.scalar(select(func.count()).select_from(Punch)) == len(messages)
        assert db.scalar(select(func.count()).select_from(UnmatchedPunch)) == unknown
        assert db.scalar(select(func.count(func.distinct(Punch.id)))) == len(messages)
        queued = db.execute(select(RecomputeRequest.employee_id, RecomputeRequest.day)).all()
    assert len(queued) == len(people_days)
    assert {d for _, d in queued} == {d.date() for d in days}
