"""Every committed fact is judged: a punch committed while a runner holds its key is
recomputed after its commit, whatever the interleaving of ingest and runners (PostgreSQL)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, timedelta

from sqlalchemy import Engine, func, select

from ingest.pipeline import DeviceDirectory, Message, process_batch
from runner.directory import RulesDirectory
from runner.recompute import recompute
from runner.worker import RecomputeWorker
from store.db import db_session, session_factory
from store.models import DayRecord, Employee, RecomputeRequest, ViolationRecord
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
