"""The rules role: a recompute loop over the queue, and the one scheduler (APScheduler).

The loop claims queued keys, recomputes them and commits, over and over; several loops may
run against PostgreSQL (SKIP LOCKED). The scheduler fires deadlines, the nightly
reconciliation and a catch-up at start; run it in one process only (its jobs are
idempotent, so a second one by mistake does no harm).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from kycuong.metrics import RECOMPUTE_CHANGES, RECOMPUTE_KEYS, RECOMPUTE_SECONDS
from runner.deadlines import nightly, tick, upcoming_deadlines
from runner.directory import RulesDirectory
from runner.recompute import RecomputeStats, recompute
from store.db import db_session
from store.partitions import ensure_ahead
from store.queue import claim_counted

if TYPE_CHECKING:
    from notify.violations import ViolationNotices

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def prepare_process(today: datetime | None = None) -> None:
    """Ready a process whose work is the recompute loop (the rules role), before it claims.

    Builds this year's national calendar (importing the holidays package: about a second of
    CPU otherwise spent on the first batch, ahead of its keys), then tunes the cyclic garbage
    collector. A batch holds some hundred thousand live objects (rows, facts, results); with
    the default thresholds the collector ran a thousand times over a 20,000-key drain and
    walked every object of SQLAlchemy's and our modules at each full pass: 1.25 s of 4.0 s
    of the runner's CPU. What is loaded now is frozen (never walked again), and a young
    collection waits for 50,000 new objects instead of 700: 0.2-0.3 s. Reference counting
    still frees everything acyclic at once, so memory does not grow with it."""
    from runner.directory import national_calendar

    national_calendar((today or utc_now()).year)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


class RecomputeWorker:
    """Claims keys from the queue and recomputes them until stopped."""

    def __init__(
        self,
        engine: Engine,
        directory: RulesDirectory | None = None,
        *,
        clock: Clock = utc_now,
        batch: int = 500,
        max_batch: int = 2000,
        idle_s: float = 0.1,
        notices: ViolationNotices | None = None,
    ) -> None:
        self.engine = engine
        self.notices = notices
        self.directory = directory or RulesDirectory()
        self.clock = clock
        self.batch = batch
        self.max_batch = max(batch, max_batch)
        self._limit = batch
        self.idle_s = idle_s
        self.recomputed = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rules-recompute", daemon=True)

    def run_once(self) -> RecomputeStats:
        """Claim one batch and recompute it in one transaction.

        A full claim doubles the next one (up to ``max_batch``), an emptier one goes back to
        ``batch``: a backlog is worked off in larger batches, whose fixed cost (a dozen round
        trips and a commit) is shared by more keys, while a quiet queue keeps batches small."""
        with RECOMPUTE_SECONDS.time(), db_session(self.engine) as db:
            if db.get_bind().dialect.name == "postgresql":
                # Derived rows only, and the claim's deletions in the same transaction: a
                # commit lost in a server crash loses its claim too, so the keys are queued
                # again and recomputed. A later synchronous commit (a review, ingest) flushes
                # this one with it. The runner does not wait for the disk at every batch.
                db.execute(text("SET LOCAL synchronous_commit = off"))
            keys, requests = claim_counted(db, self._limit)
            full = requests >= self._limit
            stats = recompute(
                db, keys, self.clock(), self.directory, trigger="queue", notices=self.notices
            )
        self._limit = min(self._limit * 2, self.max_batch) if full else self.batch
        self.recomputed += stats.keys
        RECOMPUTE_KEYS.inc(stats.keys)
        for action in ("detected", "updated", "withdrawn", "restored"):
            RECOMPUTE_CHANGES.labels(action).inc(getattr(stats, action))
        return stats

    def drain(self) -> int:
        """Recompute until the queue is empty; returns the keys recomputed."""
        total = 0
        while True:
            stats = self.run_once()
            if not stats.keys:
                return total
            total += stats.keys

    def _loop(self) -> None:
        delay = self.idle_s
        while not self._stop.is_set():
            try:
                stats = self.run_once()
                delay = self.idle_s
            except Exception:
                log.exception("recompute failed; the keys stay queued, retrying in %.1fs", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            if stats.detected or stats.withdrawn or stats.restored:
                log.info(
                    "recomputed %d keys: %d detected, %d updated, %d withdrawn, %d restored",
                    stats.keys,
                    stats.detected,
                    stats.updated,
                    stats.withdrawn,
                    stats.restored,
                )
            if not stats.keys:
                self._wake.wait(self.idle_s)
                self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)


class DeadlineScheduler:
    """APScheduler jobs: exact deadline triggers, a safety tick, the nightly reconciliation."""

    def __init__(
        self,
        engine: Engine,
        directory: RulesDirectory,
        timezone: str,
        clock: Clock = utc_now,
        dead_letter_retention: timedelta = timedelta(days=90),
    ) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.engine = engine
        self.dead_letter_retention = dead_letter_retention
        self.directory = directory
        self.timezone = timezone
        self.clock = clock
        self.on_stop: list[Callable[[], None]] = []
        self.scheduler = BackgroundScheduler(
            timezone=timezone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )

    def tick(self) -> int:
        with db_session(self.engine) as db:
            return tick(db, self.directory, self.clock())

    def reconcile_yesterday(self) -> int:
        from rules.zones import zone

        yesterday = self.clock().astimezone(zone(self.timezone)).date() - timedelta(days=1)
        with db_session(self.engine) as db:
            return nightly(db, yesterday)

    def partitions_ahead(self) -> int:
        """Next months' partitions of the history, made before their first row arrives."""
        from rules.zones import zone

        with db_session(self.engine) as db:
            return ensure_ahead(db, self.clock().astimezone(zone(self.timezone)).date())

    def purge_dead_letters(self) -> int:
        """Forget dead letters (and tallies) not seen again within the retention period."""
        from store.punches import purge_dead_letters

        with db_session(self.engine) as db:
            purged = purge_dead_letters(db, self.clock() - self.dead_letter_retention)
        if purged:
            log.info("purged %d dead letters older than the retention period", purged)
        return purged

    def plan_triggers(self) -> int:
        """Schedule a tick at each distinct deadline of the coming 36 hours."""
        with db_session(self.engine) as db:
            instants = upcoming_deadlines(db, self.directory, self.clock())
        for instant in instants:
            self.scheduler.add_job(
                self.tick,
                "date",
                run_date=instant,
                id=f"deadline-{instant.isoformat()}",
                replace_existing=True,
            )
        return len(instants)

    def start(self) -> None:
        self.tick()  # catch up on the deadlines missed while down
        self.scheduler.add_job(
            self.tick, "interval", minutes=5, id="safety-tick", replace_existing=True
        )
        self.scheduler.add_job(
            self.plan_triggers,
            "cron",
            hour="*/6",
            minute=1,
            id="plan-triggers",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.reconcile_yesterday, "cron", hour=1, minute=0, id="nightly", replace_existing=True
        )
        self.partitions_ahead()
        self.scheduler.add_job(
            self.partitions_ahead, "cron", hour=2, minute=0, id="partitions", replace_existing=True
        )
        self.scheduler.add_job(
            self.purge_dead_letters,
            "cron",
            hour=2,
            minute=30,
            id="dead-letter-retention",
            replace_existing=True,
        )
        planned = self.plan_triggers()
        self.scheduler.start()
        log.info(
            "scheduler started (%s): %d deadline triggers planned, nightly reconciliation at 01:00",
            self.timezone,
            planned,
        )

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        for stop in self.on_stop:
            stop()
