"""Which session a punch belongs to (attribution), one rule for every day shape.

A person's punches are read in time order across the neighbouring dates' sessions. Taps
within the retap window of a punch are that punch repeated (a burst). Each burst goes to
at most one session: to the only session whose window holds it, and where two windows
overlap in the break between sessions, by reading the punches in order (docs/rules.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple, Protocol

from rules.calendar import PlannedSession
from rules.policy import BreakCut


class Burst(NamedTuple):
    """A punch and its retaps: as an arrival it counts from its first tap, as a departure
    from its last (a retap is never a departure). A tuple: millions are made a second."""

    first_id: int
    first_at: int
    last_id: int
    last_at: int


class _Punch(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def at(self) -> int: ...


_IN_TIME_ORDER = attrgetter("at", "id")
_new = tuple.__new__  # builds a Burst without a Python-level call: the core's hottest loop


def bursts(punches: Sequence[_Punch], window_s: int) -> list[Burst]:
    """Punches (any order) → bursts in time order: a burst is a punch and every later one
    within ``window_s`` of it (double taps and retaps), so adding a retap never moves where
    a burst starts, and never makes a departure earlier."""
    out: list[Burst] = []
    anchor_id = anchor_at = last_id = last_at = 0
    started = False
    for punch in sorted(punches, key=_IN_TIME_ORDER):
        pid, at = punch.id, punch.at
        if started:
            if at - anchor_at <= window_s:
                last_id, last_at = pid, at
                continue
            out.append(_new(Burst, (anchor_id, anchor_at, last_id, last_at)))
        started = True
        anchor_id = last_id = pid
        anchor_at = last_at = at
    if started:
        out.append(_new(Burst, (anchor_id, anchor_at, last_id, last_at)))
    return out


@dataclass(frozen=True, slots=True)
class Layout:
    """How a run of sessions (sorted by start) shares time: each session's own range
    ``[lows[i], highs[i]]`` and, after it, the contested span ``zones[i]`` (lo, hi, cut)
    where its window and the next one's overlap inside the break."""

    lows: tuple[int, ...]
    highs: tuple[int, ...]
    reach: tuple[int, ...]
    zones: tuple[tuple[int, int, int] | None, ...]


def layout(sessions: Sequence[PlannedSession], cut: BreakCut = "middle") -> Layout:
    """Own ranges and contested spans of ``sessions``; depends on the plan only (cacheable).

    Sessions that overlap themselves (a night shift ending after the next morning starts)
    are cut at the earlier one's scheduled end. Otherwise the earlier session owns its
    window up to the break, the later one from the end of the contested span on.
    """
    n = len(sessions)
    lows = [s.window_start for s in sessions]
    highs = [s.window_end for s in sessions]
    zones: list[tuple[int, int, int] | None] = [None] * n
    for i in range(n - 1):
        a, b = sessions[i], sessions[i + 1]
        if a.window_end < b.window_start:
            continue
        if a.end > b.start:
            highs[i] = min(highs[i], a.end)
            lows[i + 1] = max(lows[i + 1], a.end + 1)
            continue
        lo, hi = max(a.end, b.window_start), min(b.start, a.window_end)
        highs[i] = min(highs[i], lo - 1)
        lows[i + 1] = max(lows[i + 1], hi + 1)
        if cut == "earlier_end":
            at = a.end
        elif cut == "later_start":
            at = b.start
        else:
            at = a.end + (b.start - a.end) // 2
        zones[i] = (lo, hi, min(max(at, lo), hi))
    reach = tuple(z[1] if z is not None else h for z, h in zip(zones, highs, strict=True))
    return Layout(tuple(lows), tuple(highs), reach, tuple(zones))


def attribute(shape: Layout, found: Sequence[Burst]) -> list[list[Burst]]:
    """The bursts of each session of ``shape`` (in time order), each burst to at most one.

    A burst in a contested span is read in order: with two or more there, the first is the
    earlier session's departure and the rest go to the later one (all of them when the
    earlier already has two bursts of its own); a single one completes the session that
    lacks a side (the earlier when the later has two bursts of its own, the later when the
    earlier has); otherwise the cut decides, a burst on the cut going to the earlier.
    """
    lows, highs, reach = shape.lows, shape.highs, shape.reach
    n = len(lows)
    own: list[list[Burst]] = [[] for _ in range(n)]
    contested: list[list[Burst]] | None = None
    i = 0
    limit = reach[0]
    for burst in found:
        t = burst.first_at
        while t > limit:
            i += 1
            if i == n:
                break
            limit = reach[i]
        if i == n:
            break
        if t > highs[i]:
            if contested is None:
                contested = [[] for _ in range(n)]
            contested[i].append(burst)
        elif t >= lows[i]:
            own[i].append(burst)
    if contested is None:
        return own
    counts = [len(o) for o in own]  # a session's own bursts, before any contested one
    for i, disputed in enumerate(contested):
        zone = shape.zones[i]
        if zone is None or not disputed:
            continue
        if len(disputed) >= 2:
            to_earlier = 0 if counts[i] >= 2 else 1
        elif counts[i] >= 2:
            to_earlier = 0
        elif counts[i + 1] >= 2 or disputed[0].first_at <= zone[2]:
            to_earlier = 1
        else:
            to_earlier = 0
        own[i].extend(disputed[:to_earlier])
        own[i + 1][:0] = disputed[to_earlier:]
    return own
