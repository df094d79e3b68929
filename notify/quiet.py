"""Quiet hours (giờ yên lặng): a message due inside them waits for their end, never dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local ``start`` to ``end``; across midnight when ``end`` <= ``start`` (21:00-06:30)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str | None) -> QuietHours | None:
        """``"21:00-06:30"``; None for empty text. ``ValueError`` for anything else."""
        if not text or not text.strip():
            return None
        first, _, second = text.strip().partition("-")
        start, end = time.fromisoformat(first.strip()), time.fromisoformat(second.strip())
        return None if start == end else cls(start, end)

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release(self, at: datetime, tz: ZoneInfo) -> datetime | None:
        """The end of the quiet hours ``at`` falls in (an aware instant), or None if outside."""
        local = at.astimezone(tz)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        day = local.date()
        if self.start >= self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=tz)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"
