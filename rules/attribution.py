"""Which session a punch belongs to (attribution), one rule for every day shape.

A person's punches are read in time order across the neighbouring dates' sessions. Taps
within the retap window of a punch are that punch repeated (a burst). Each burst goes to
at most one session: to the only session whose window holds it, and where two windows
overlap in the break between sessions, by reading the punches in order (docs/rules.md).

A manual punch whose person said which session and which side (đề nghị bổ sung giờ chấm:
"Quên chấm công ra (sáng)", approved by the unit head) is *pinned*: it starts a burst of
its own and goes to the session named, whatever the break or the cut would say. A reader's
in/out is never pinned: readers mislabel it (a wrong key, a one-way mode), so it stays a
hint kept as evidence (DESIGN.md, "Direction is a hint").
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Collection, Mapping, Sequence
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
_FIRST_AT = attrgetter("first_at")
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


def pinned_bursts(punches: Sequence[_Punch], window_s: int, pins: Collection[int]) -> list[Burst]:
    """``bursts`` where each punch of ``pins`` (the ids of manual punches a person placed)
    starts a burst of its own: it is never another punch's retap, and the taps within
    ``window_s`` after it are its own retaps. Only days with such a punch come here."""
    out: list[Burst] = []
    anchor_id = anchor_at = last_id = last_at = 0
    started = False
    for punch in sorted(punches, key=_IN_TIME_ORDER):
        pid, at = punch.id, punch.at
        if started:
            if at - anchor_at <= window_s and pid not in pins:
                last_id, last_at = pid, at
                continue
            out.append(_new(Burst, (anchor_id, anchor_at, last_id, last_at)))
        started = True
        anchor_id = last_id = pid
        anchor_at = last_at = at
    if started:
        out.append(_new(Burst, (anchor_id, anchor_at, last_id, last_at)))
    return out


class Zone(NamedTuple):
    """The contested span after a session (``lo``..``hi``, both inclusive, inside the break),
    its ``cut``, and what the two sessions beside it need to be read: the earlier one's
    start, midpoint and scheduled end, the later one's midpoint and scheduled start."""

    lo: int
    hi: int
    cut: int
    earlier_start: int
    earlier_midpoint: int
    earlier_end: int
    later_midpoint: int
    later_start: int


@dataclass(frozen=True, slots=True)
class Layout:
    """How a run of sessions (sorted by start) shares time: each session's own range
    ``[lows[i], highs[i]]`` and, after it, the contested span ``zones[i]`` where its window
    and the next one's overlap inside the break."""

    lows: tuple[int, ...]
    highs: tuple[int, ...]
    reach: tuple[int, ...]
    zones: tuple[Zone | None, ...]


def layout(sessions: Sequence[PlannedSession], cut: BreakCut = "earlier_end") -> Layout:
    """Own ranges and contested spans of ``sessions``; depends on the plan only (cacheable).

    Sessions that overlap themselves (a night shift ending after the next morning starts)
    are cut at the earlier one's scheduled end. Otherwise the earlier session owns its
    window up to the break, the later one from the end of the contested span on.
    """
    n = len(sessions)
    lows = [s.window_start for s in sessions]
    highs = [s.window_end for s in sessions]
    zones: list[Zone | None] = [None] * n
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
        zones[i] = Zone(
            lo, hi, min(max(at, lo - 1), hi), a.start, a.midpoint, a.end, b.midpoint, b.start
        )
    reach = tuple(z.hi if z is not None else h for z, h in zip(zones, highs, strict=True))
    return Layout(tuple(lows), tuple(highs), reach, tuple(zones))


def attribute(
    shape: Layout,
    found: Sequence[Burst],
    early_grace_s: int = 300,
    late_grace_s: int = 300,
    leave: Mapping[int, bool] | None = None,
    pinned: Sequence[tuple[int, Burst]] = (),
    double_tap_s: int = 0,
) -> list[list[Burst]]:
    """The bursts of each session of ``shape`` (in time order), each burst to at most one.

    A session's arrival is its first burst and its departure its last (``rules.evaluate``),
    so a stray tap inside a session is never its departure when a later one is there.
    Bursts in a contested span (inside the break) are read in order: with two or more, the
    first is the earlier session's departure and the rest go to the later one (its arrival
    first). A single one goes to the session that has punches of its own but lacks the
    side it would give: a departure no earlier than end − ``early_grace_s`` for the earlier
    session, an arrival no later than start + ``late_grace_s`` for the later one. When
    both or neither lack it, the cut decides, a burst on the cut going to the earlier;
    except that when neither has a punch at all for that side and the burst is two taps or
    more further apart than ``double_tap_s`` (out and straight back within the retap
    window: a break shorter than it), its first tap is the earlier session's departure and
    its last the later one's arrival, if that arrival is not late. Taps within
    ``double_tap_s`` of each other are one punch (DOMAIN.md) and are never split: one
    punch belongs to one session. A session with no punch of its
    own whose next break holds bursts (a middle session of three) is read as having its
    departure there and no arrival yet.
    ``leave`` names the breaks (by the earlier session's index) between two sessions of
    one date of which exactly one is on approved leave, True when it is the earlier: the
    break's bursts all go to the other one (half a day of leave starts or ends at lunch).
    ``pinned`` are bursts a person placed (a manual punch with its session), each with the
    index of its session in ``shape``: they go there first, not in ``found``, and the
    break's other bursts are then read beside them.
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
    for index, burst in pinned:
        insort(own[index], burst, key=_FIRST_AT)
    if contested is None:
        return own
    counts = [len(o) for o in own]  # a session's own bursts, before any contested one
    for i, disputed in enumerate(contested):
        zone = shape.zones[i]
        if zone is None or not disputed:
            continue
        if leave and i in leave:
            to_earlier = 0 if leave[i] else len(disputed)
        elif len(disputed) >= 2:
            to_earlier = 1
        elif (got := len(own[i])) and (counts[i + 1] or contested[i + 1]):
            # The earlier session's bursts so far: its own, after the arrival the break
            # before it may have given it (a middle session arriving in a short break).
            # A later session with no punch of its own whose next break holds punches (a
            # middle session of three) has its departure there, and no arrival yet.
            later = counts[i + 1]
            departs = _departs(own[i][-1], got, zone, early_grace_s)
            arrives = later > 0 and _arrives(own[i + 1][0], later, zone, late_grace_s)
            if departs != arrives:
                # Exactly one of the two has the side this burst would give: the other
                # takes it.
                to_earlier = 0 if departs else 1
            elif departs:
                to_earlier = 1 if disputed[0].first_at <= zone.cut else 0
            elif (has := _has_departure(own[i][-1], got, zone)) != (
                later > 0 and _has_arrival(own[i + 1][0], later, zone)
            ):
                # Neither has it on time, and one has no punch at all for that side (a
                # lunch-out before a late return): that one takes it, so the return is
                # late rather than the lunch-out forgotten.
                to_earlier = 0 if has else 1
            elif not has and _splits(disputed[0], zone, late_grace_s, double_tap_s):
                # Neither has a punch at all for the side it would give, and the burst is
                # two punches (taps further apart than a double tap): out and straight
                # back (a break shorter than the retap window). Its first tap is the earlier
                # session's departure, its last the later one's arrival.
                burst = disputed[0]
                own[i].append(_new(Burst, (burst.first_id, burst.first_at) * 2))
                own[i + 1].insert(0, _new(Burst, (burst.last_id, burst.last_at) * 2))
                continue
            else:
                to_earlier = 1 if disputed[0].first_at <= zone.cut else 0
        else:
            to_earlier = 1 if disputed[0].first_at <= zone.cut else 0
        own[i].extend(disputed[:to_earlier])
        own[i + 1][:0] = disputed[to_earlier:]
    if pinned:  # a pinned burst may be later than the break's bursts given beside it
        for found_here in own:
            found_here.sort(key=_FIRST_AT)
    return own


def _splits(burst: Burst, zone: Zone, grace_s: int, double_tap_s: int) -> bool:
    """Whether a break burst can be read as a departure and a return: two punches, its
    first and last taps further apart than a double tap (taps within ``double_tap_s`` are
    one punch, DOMAIN.md, and one punch is one session's), the last one an arrival that is
    not late (the first, in the break, is never early)."""
    return (
        burst.first_id != burst.last_id
        and burst.last_at - burst.first_at > double_tap_s
        and burst.last_at <= zone.later_start + grace_s
    )


def _has_departure(last: Burst, count: int, zone: Zone) -> bool:
    """Whether the earlier session's own bursts end with a departure at all, early or not,
    as ``rules.evaluate`` reads them: a lone burst after the midpoint, or the last of
    several unless it is at or before the start."""
    if count == 1:
        return last.first_at > zone.earlier_midpoint
    return last.first_at > zone.earlier_start


def _has_arrival(first: Burst, count: int, zone: Zone) -> bool:
    """Whether the later session's own bursts start with an arrival at all, late or not."""
    return count > 1 or first.first_at <= zone.later_midpoint


def _departs(last: Burst, count: int, zone: Zone, grace_s: int) -> bool:
    """Whether the earlier session's own bursts end with a departure that is not early.

    Judged from the burst's first tap, so a retap never changes where a burst goes."""
    if count == 1 and last.first_at <= zone.earlier_midpoint:
        return False  # a lone burst before the midpoint is an arrival
    return last.first_at >= zone.earlier_end - grace_s


def _arrives(first: Burst, count: int, zone: Zone, grace_s: int) -> bool:
    """Whether the later session's own bursts start with an arrival that is not late."""
    if count == 1 and first.first_at > zone.later_midpoint:
        return False  # a lone burst after the midpoint is a departure
    return first.first_at <= zone.later_start + grace_s
