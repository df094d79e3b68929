"""Time zones: instants are UTC everywhere; agencies evaluate in their own zone (múi giờ)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_ZONE_NAME = "Asia/Ho_Chi_Minh"


@lru_cache(maxsize=64)
def zone(name: str = DEFAULT_ZONE_NAME) -> ZoneInfo:
    """The zone called ``name`` (cached: ZoneInfo lookups read tzdata)."""
    return ZoneInfo(name)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar date of ``instant`` in the agency's zone."""
    return instant.astimezone(tz).date()


def to_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: an instant needs a zone")
    return instant.astimezone(UTC)
