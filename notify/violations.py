"""Notices of violations to the person (thông báo vi phạm), queued by the runner in the
transaction that writes the violations: once per violation, cancelled if it is withdrawn
before it goes, none while it is provisional (it may still be withdrawn) nor for old days."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session as DbSession

from kycuong.settings import Settings
from store import outbox
from store.outbox import Identity


@dataclass(frozen=True, slots=True)
class ViolationNotices:
    """Which violations get a notice, and how long a notice waits (``hold``) so that a
    reader's backlog arriving just after can withdraw the violation first."""

    kinds: frozenset[str] = frozenset(
        {"late", "early_leave", "absent", "missing_in", "missing_out"}
    )
    hold: timedelta = timedelta(minutes=5)
    max_age_days: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> ViolationNotices | None:
        if not settings.notify_enabled:
            return None
        return cls(
            kinds=frozenset(settings.notify_violation_kinds),
            hold=timedelta(minutes=settings.notify_hold_minutes),
            max_age_days=settings.notify_max_age_days,
        )

    def wants(self, kind: str, day: date, provisional: bool, today: date) -> bool:
        """A final violation of a kind we tell about, of a recent day (a recompute of old
        months must not wake people up about them)."""
        return (
            kind in self.kinds
            and not provisional
            and day >= today - timedelta(days=self.max_age_days)
        )

    def record(
        self,
        db: DbSession,
        flagged: Iterable[Identity],
        withdrawn: Iterable[Identity],
        now: datetime,
    ) -> None:
        outbox.violation_notices(db, flagged, now + self.hold, now)
        outbox.cancel_violation_notices(db, withdrawn, now)
