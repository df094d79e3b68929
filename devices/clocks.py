"""A terminal's clock history (lịch sử đồng hồ máy chấm công): the offsets a bridge measured
and when, kept on disk, so an event that arrives late (a terminal's retry, a cut-off link)
is corrected by the offset in force when it was made, not by the one in force on arrival.

Pure apart from the JSON file it is given; ``now`` is passed in.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

# Readings closer than this are one offset (network round trip, jitter, slow drift): days are
# judged to the minute, and a reading that jitters by a few seconds must not open a spell each
# time (100 such spells would push a wrong-zone hour out of the history).
SAME_OFFSET_S = 30.0
# How far outside a spell's bounds an event may fall (reading delay, the terminal's seconds).
SLACK = timedelta(seconds=10)
KEEP_SPELLS = 100
KEEP_FOR = timedelta(days=62)  # as ingest's backlog window: an older event is quarantined


@dataclass(slots=True)
class Spell:
    """A stretch over which the terminal's clock kept one offset (and stated one zone)."""

    offset_s: float
    zone_s: float | None  # the UTC offset the clock stated, e.g. 28800 for +08:00
    first_at: datetime  # true time of the first reading with this offset
    last_at: datetime  # and of the last

    def to_json(self) -> dict[str, object]:
        return {
            "offset_s": self.offset_s,
            "zone_s": self.zone_s,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: object) -> Spell:
        """One spell as saved; ``ValueError`` for anything else (another version's file, an
        edit by hand): a time without its offset, an offset that is not a finite number."""
        if not isinstance(data, dict):
            raise ValueError(f"a spell is an object, not {data!r}")
        zone = data.get("zone_s")
        spell = cls(
            float(str(data["offset_s"])),
            float(str(zone)) if zone is not None else None,
            datetime.fromisoformat(str(data["first_at"])),
            datetime.fromisoformat(str(data["last_at"])),
        )
        if spell.first_at.utcoffset() is None or spell.last_at.utcoffset() is None:
            raise ValueError("a spell's times have no UTC offset")
        if not all(math.isfinite(v) for v in (spell.offset_s, spell.zone_s or 0.0)):
            raise ValueError("a spell's offset is not a finite number")
        return spell


def _zone_s(instant: datetime) -> float | None:
    offset = instant.utcoffset()
    return offset.total_seconds() if offset is not None else None


class ClockHistory:
    """The spells of one terminal's clock, oldest first; saved after every reading."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.spells: list[Spell] = []
        if path is not None and path.exists():
            try:
                saved = json.loads(path.read_text())
                if not isinstance(saved, list):
                    raise ValueError("not a list of spells")
                self.spells = [Spell.from_json(s) for s in saved]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("%s: unreadable clock history, starting a new one: %s", path, exc)

    @property
    def current(self) -> float | None:
        """The offset last measured (seconds the clock is ahead), None before any reading."""
        return self.spells[-1].offset_s if self.spells else None

    def record(self, clock: datetime, now: datetime) -> float:
        """Keep one reading of the terminal's clock taken at true time ``now``; its offset."""
        offset = (clock - now).total_seconds()
        zone = _zone_s(clock)
        last = self.spells[-1] if self.spells else None
        if last is not None and abs(last.offset_s - offset) < SAME_OFFSET_S and last.zone_s == zone:
            last.offset_s, last.last_at = offset, now  # follows a slow drift
        else:
            self.spells.append(Spell(offset, zone, now, now))
        cutoff = now - KEEP_FOR
        self.spells = [s for s in self.spells if s.last_at >= cutoff][-KEEP_SPELLS:]
        self._save()
        return offset

    def offset_for(self, stamped: datetime, now: datetime) -> float | None:
        """The offset in force when an event stamped ``stamped`` by the terminal was made.

        A spell fits when the event's true time under its offset falls between the end of
        the spell before and the start of the spell after (the clock was set somewhere in
        those gaps). Of the spells that fit, one whose zone the event states wins, then the
        latest; when none fits, the offset measured last.
        """
        if not self.spells:
            return None
        fitting = []
        for i, spell in enumerate(self.spells):
            lower = self.spells[i - 1].last_at - SLACK if i > 0 else None
            upper = self.spells[i + 1].first_at + SLACK if i + 1 < len(self.spells) else now + SLACK
            true = stamped - timedelta(seconds=spell.offset_s)
            if (lower is None or true >= lower) and true <= upper:
                fitting.append(spell)
        if not fitting:
            return self.spells[-1].offset_s
        zone = _zone_s(stamped)
        same_zone = [s for s in fitting if s.zone_s == zone]
        return (same_zone or fitting)[-1].offset_s

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps([s.to_json() for s in self.spells]))
            tmp.replace(self.path)
        except OSError as exc:  # a full disk or a read-only state_dir: kept in memory still
            log.warning("%s: clock history not saved: %s", self.path, exc)
