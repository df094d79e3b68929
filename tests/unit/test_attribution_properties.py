"""Attribution invariants over generated days of every shape (hypothesis)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.attribution import attribute, bursts, layout
from rules.calendar import DayPlan, Margins, Schedule, SessionSpec, office_hours
from rules.evaluate import Excuse, PunchFact, evaluate_day
from rules.policy import Policy
from rules.reconcile import apply_changes, reconcile
from tests.unit.days import MONDAY, TZ, at, local, plan

ONE = timedelta(days=1)


def _rota(name: str, *days: tuple[tuple[str, str, str], ...]) -> Schedule:
    return Schedule(
        name=name,
        rota=tuple(
            tuple(SessionSpec(n, time.fromisoformat(s), time.fromisoformat(e)) for n, s, e in day)
            for day in days
        ),
        rota_anchor=MONDAY - 7 * ONE,
        observes_holidays=False,
    )


SHAPES: dict[str, Schedule] = {
    "office": office_hours(),
    "hanoi": office_hours(("08:00", "12:00"), ("13:00", "17:00")),
    "summer": office_hours(("07:00", "11:30"), ("13:30", "17:00")),
    "night_then_morning": _rota(
        "Đêm rồi sáng", (("night", "22:00", "08:00"),), (("morning", "07:30", "11:30"),)
    ),
    "three_shifts": _rota(
        "Ba ca",
        (("early", "06:00", "14:00"), ("late", "14:00", "22:00"), ("night", "22:00", "06:00")),
    ),
    "nights": _rota("Trực đêm", (("night", "22:00", "06:00"),), ()),
    "long_day": _rota("Ca dài", (("day", "07:00", "19:00"),)),
}
OFFICE_SHAPES = ("office", "hanoi", "summer")

policies = st.builds(
    Policy,
    late_grace_s=st.sampled_from([0, 300, 900]),
    early_grace_s=st.sampled_from([0, 300]),
    absent_after_late_s=st.sampled_from([3600, 7200]),
    punch_mode=st.sampled_from(["per_session", "per_day"]),
    double_tap_s=st.sampled_from([0, 60, 120]),
    retap_s=st.sampled_from([0, 180, 600, 900]),
    break_cut=st.sampled_from(["earlier_end", "middle", "later_start"]),
    margins=st.builds(
        Margins,
        early_arrival_s=st.sampled_from([0, 30 * 60, 90 * 60, 120 * 60, 240 * 60]),
        late_departure_s=st.sampled_from([0, 15 * 60, 120 * 60, 240 * 60, 480 * 60]),
    ),
)
# Punches over three dates: the day before, the day, the day after (neighbours' shifts).
instants = st.integers(min_value=at(MONDAY - ONE, "12:00"), max_value=at(MONDAY + ONE, "14:00"))
punch_lists = st.lists(instants, max_size=12).map(
    lambda ts: [PunchFact(i + 1, t) for i, t in enumerate(ts)]
)


def _near(hhmm: str, before_min: int, after_min: int) -> st.SearchStrategy[int]:
    return st.integers(at(MONDAY, hhmm) - before_min * 60, at(MONDAY, hhmm) + after_min * 60)


# Office days as people punch them: each of the four punches may be missing, lunch punches
# anywhere around the break, plus stray taps anywhere in the working day.
office_days = st.tuples(
    st.lists(_near("07:30", 60, 60), max_size=1),
    st.lists(_near("11:30", 60, 90), max_size=1),
    st.lists(_near("13:00", 90, 40), max_size=1),
    st.lists(_near("17:00", 60, 60), max_size=1),
    st.lists(_near("12:00", 300, 300), max_size=2),
).map(lambda parts: [PunchFact(i + 1, t) for i, t in enumerate(t for p in parts for t in p)])
FINAL = local(MONDAY + 3 * ONE, "00:00")
moments = st.integers(min_value=at(MONDAY, "00:00"), max_value=int(FINAL.timestamp())).map(
    lambda t: datetime.fromtimestamp(t, tz=TZ)
)
shapes = st.sampled_from(sorted(SHAPES))


def _plan(shape: str, day: date, policy: Policy) -> DayPlan:
    return plan(day, schedule=SHAPES[shape], policy=policy)


@given(shapes, policies, punch_lists)
def test_a_punch_is_attributed_to_at_most_one_session(
    shape: str, policy: Policy, punches: list[PunchFact]
) -> None:
    window = max(policy.double_tap_s, policy.retap_s)
    found = bursts(punches, window)
    owner: dict[int, tuple[date, str]] = {}
    for day in (MONDAY - ONE, MONDAY, MONDAY + ONE):
        day_plan = _plan(shape, day, policy)
        if not day_plan.sessions:
            continue
        attributed = attribute(
            layout(day_plan.context, policy.break_cut),
            found,
            policy.early_grace_s,
            policy.late_grace_s,
            double_tap_s=policy.double_tap_s,
        )
        offset = len(day_plan.before)
        for session, mine in zip(day_plan.sessions, attributed[offset:], strict=False):
            for burst in mine:
                assert session.contains(burst.first_at)
                where = (day, session.name)
                assert owner.setdefault(burst.first_id, where) == where


def _keys(shape: str, policy: Policy, punches: list[PunchFact], now: datetime) -> set[object]:
    return {
        (day, v.session, v.kind)
        for day in (MONDAY - ONE, MONDAY, MONDAY + ONE)
        for v in evaluate_day(_plan(shape, day, policy), policy, punches, [], now).violations
    }


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(shapes, policies, punch_lists, moments, st.data())
def test_adding_a_retap_never_adds_a_violation(
    shape: str, policy: Policy, punches: list[PunchFact], now: datetime, data: st.DataObject
) -> None:
    window = max(policy.double_tap_s, policy.retap_s)
    found = bursts(punches, window)
    if not found or window == 0:
        return
    repeated = data.draw(st.sampled_from(found))
    retap = PunchFact(99, repeated.first_at + data.draw(st.integers(1, window)))
    before = _keys(shape, policy, punches, now)
    after = _keys(shape, policy, [*punches, retap], now)
    assert after <= before


@given(
    st.sampled_from(OFFICE_SHAPES),
    policies.filter(
        lambda p: p.margins.early_arrival_s >= 120 * 60 and p.margins.late_departure_s >= 120 * 60
    ),
    st.data(),
)
def test_a_valid_four_punch_day_with_lunch_punches_anywhere_in_the_break_has_no_violation(
    shape: str, policy: Policy, data: st.DataObject
) -> None:
    day_plan = _plan(shape, MONDAY, policy)
    morning, afternoon = day_plan.sessions
    window = max(policy.double_tap_s, policy.retap_s)
    arrive = data.draw(st.integers(morning.start - policy.margins.early_arrival_s, morning.start))
    out = data.draw(st.integers(morning.end, afternoon.start - window - 1))
    back = data.draw(st.integers(out + window + 1, afternoon.start))
    leave = data.draw(st.integers(afternoon.end, afternoon.end + policy.margins.late_departure_s))
    punches = [PunchFact(i, t) for i, t in enumerate((arrive, out, back, leave), start=1)]
    result = evaluate_day(day_plan, policy, punches, [], FINAL)
    assert result.violations == ()
    assert result.status == "present"


@given(st.sampled_from(OFFICE_SHAPES), policies, st.data())
def test_a_late_return_from_lunch_is_the_afternoon_s_lateness_only(
    shape: str, policy: Policy, data: st.DataObject
) -> None:
    if policy.punch_mode != "per_session":
        return  # first in / last out does not read the lunch punches
    # One lunch-out anywhere the morning's window holds in the break, and a late return:
    # whatever the cut, the afternoon is late and nothing else (never a forgotten punch).
    day_plan = _plan(shape, MONDAY, policy)
    morning, afternoon = day_plan.sessions
    window = max(policy.double_tap_s, policy.retap_s)
    last_out = min(afternoon.start, morning.window_end) - window - 1
    if policy.late_grace_s >= policy.absent_after_late_s or last_out < morning.end:
        return
    arrive = data.draw(st.integers(morning.window_start, morning.start))
    out = data.draw(st.integers(morning.end, last_out))
    back = data.draw(
        st.integers(
            afternoon.start + policy.late_grace_s + 1,
            afternoon.start + policy.absent_after_late_s,
        )
    )
    leave = data.draw(st.integers(afternoon.end, afternoon.window_end))
    punches = [PunchFact(i, t) for i, t in enumerate((arrive, out, back, leave), start=1)]
    result = evaluate_day(day_plan, policy, punches, [], FINAL)
    kinds_found = sorted((v.session, v.kind) for v in result.violations)
    assert kinds_found == [("afternoon", "late")]


@given(st.sampled_from(OFFICE_SHAPES), policies, st.booleans(), st.data())
def test_half_a_day_of_leave_with_its_lunch_punch_anywhere_in_the_break_has_no_violation(
    shape: str, policy: Policy, morning_off: bool, data: st.DataObject
) -> None:
    day_plan = _plan(shape, MONDAY, policy)
    morning, afternoon = day_plan.sessions
    window = max(policy.double_tap_s, policy.retap_s)
    if morning_off:  # in at lunch for the afternoon: the arrival anywhere the window holds
        arrive = data.draw(st.integers(max(afternoon.window_start, morning.end), afternoon.start))
        leave = data.draw(st.integers(afternoon.end, afternoon.window_end))
    else:  # out at lunch for the afternoon's leave
        arrive = data.draw(st.integers(morning.window_start, morning.start))
        leave = data.draw(st.integers(morning.end, min(morning.window_end, afternoon.start)))
    if leave - arrive <= window:
        return
    off = Excuse(
        1, "annual_leave", MONDAY, MONDAY, frozenset({"morning" if morning_off else "afternoon"})
    )
    punches = [PunchFact(1, arrive), PunchFact(2, leave)]
    result = evaluate_day(day_plan, policy, punches, [off], FINAL)
    assert result.violations == ()


kinds_of_excuse = st.sampled_from(
    ["annual_leave", "sick_leave", "business_trip", "training", "outside_meeting", "other"]
)
excuse_lists = st.lists(
    st.builds(
        Excuse,
        id=st.integers(1, 50),
        kind=kinds_of_excuse,
        first_day=st.sampled_from([MONDAY - ONE, MONDAY]),
        last_day=st.sampled_from([MONDAY, MONDAY + ONE]),
        sessions=st.sampled_from([None, frozenset({"morning"}), frozenset({"afternoon", "night"})]),
        status=st.sampled_from(["approved", "pending"]),
    ),
    max_size=4,
    unique_by=lambda e: e.id,
)


@given(shapes, policies, punch_lists, excuse_lists, moments, st.randoms())
def test_the_order_of_punches_and_excuses_never_changes_the_result(
    shape: str,
    policy: Policy,
    punches: list[PunchFact],
    excuses: list[Excuse],
    now: datetime,
    rnd: random.Random,
) -> None:
    day_plan = _plan(shape, MONDAY, policy)
    shuffled_punches, shuffled_excuses = list(punches), list(excuses)
    rnd.shuffle(shuffled_punches)
    rnd.shuffle(shuffled_excuses)
    assert evaluate_day(day_plan, policy, shuffled_punches, shuffled_excuses, now) == (
        evaluate_day(day_plan, policy, punches, excuses, now)
    )


@given(shapes, policies, punch_lists, excuse_lists, moments)
def test_recomputing_any_shape_is_idempotent(
    shape: str, policy: Policy, punches: list[PunchFact], excuses: list[Excuse], now: datetime
) -> None:
    day_plan = _plan(shape, MONDAY, policy)
    result = evaluate_day(day_plan, policy, punches, excuses, now)
    state = apply_changes({}, reconcile({}, result.violations))
    again = evaluate_day(day_plan, policy, punches, excuses, now)
    assert again == result
    assert reconcile(state, again.violations) == []


def _minutes(
    shape: str, policy: Policy, punches: list[PunchFact], now: datetime, kind: str
) -> dict[tuple[date, str], int]:
    return {
        (day, v.session): v.minutes
        for day in (MONDAY - ONE, MONDAY, MONDAY + ONE)
        for v in evaluate_day(_plan(shape, day, policy), policy, punches, [], now).violations
        if v.kind == kind
    }


def _check_a_punch_between_arrival_and_departure(
    shape: str, policy: Policy, punches: list[PunchFact], now: datetime, data: st.DataObject
) -> None:
    day_plan = _plan(shape, MONDAY, policy)
    found = bursts(punches, max(policy.double_tap_s, policy.retap_s))
    attributed = attribute(
        layout(day_plan.context, policy.break_cut),
        found,
        policy.early_grace_s,
        policy.late_grace_s,
        double_tap_s=policy.double_tap_s,
    )
    offset = len(day_plan.before)
    shape_ = layout(day_plan.context, policy.break_cut)
    ranges = list(zip(shape_.lows, shape_.highs, strict=True))[offset:]
    mine = attributed[offset : offset + len(day_plan.sessions)]
    # A session's own arrival and departure (not a punch of the break that reading in order
    # gave it): a punch between them is a stray tap, never a late return.
    spans = [
        (s[0].first_at, s[-1].first_at)
        for s, (lo, hi) in zip(mine, ranges, strict=False)
        if len(s) > 1 and lo <= s[0].first_at <= hi and lo <= s[-1].first_at <= hi
    ]
    spans = [(a, d) for a, d in spans if d - a > 1]
    if not spans:
        return
    arrival, departure = data.draw(st.sampled_from(spans))
    extra = PunchFact(99, data.draw(st.integers(arrival + 1, departure - 1)))
    for kind in ("early_leave", "late"):
        before = _minutes(shape, policy, punches, now, kind)
        after = _minutes(shape, policy, [*punches, extra], now, kind)
        for key, minutes in after.items():
            assert key in before and minutes <= before[key], (kind, key)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(shapes, policies, punch_lists, moments, st.data())
def test_a_punch_between_a_session_s_arrival_and_departure_never_makes_it_early_or_late(
    shape: str, policy: Policy, punches: list[PunchFact], now: datetime, data: st.DataObject
) -> None:
    # A stray tap inside a session (07:36 after a 07:25 arrival, with 11:35 to come) is
    # never its departure, nor a later arrival: the departure is the session's last punch.
    _check_a_punch_between_arrival_and_departure(shape, policy, punches, now, data)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=400)
@given(st.sampled_from(OFFICE_SHAPES), policies, office_days, st.data())
def test_a_stray_tap_in_an_office_day_never_makes_a_session_early_or_late(
    shape: str, policy: Policy, punches: list[PunchFact], data: st.DataObject
) -> None:
    _check_a_punch_between_arrival_and_departure(shape, policy, punches, FINAL, data)


def _check_early_departures_follow_the_start(
    shape: str, policy: Policy, punches: list[PunchFact], now: datetime
) -> None:
    at_of = {p.id: p.at for p in punches}
    for day in (MONDAY - ONE, MONDAY, MONDAY + ONE):
        day_plan = _plan(shape, day, policy)
        starts = {s.name: s.start for s in day_plan.sessions}
        for v in evaluate_day(day_plan, policy, punches, [], now).violations:
            if v.kind == "early_leave":
                assert all(at_of[e] > starts[v.session] for e in v.evidence), (day, v)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(shapes, policies, punch_lists, moments)
def test_an_early_departure_is_always_a_punch_after_the_session_starts(
    shape: str, policy: Policy, punches: list[PunchFact], now: datetime
) -> None:
    # Taps at or before a session's start are its arrival repeated, never its departure.
    _check_early_departures_follow_the_start(shape, policy, punches, now)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.sampled_from(OFFICE_SHAPES), policies, office_days)
def test_an_early_departure_in_an_office_day_is_a_punch_after_the_session_starts(
    shape: str, policy: Policy, punches: list[PunchFact]
) -> None:
    _check_early_departures_follow_the_start(shape, policy, punches, FINAL)


# What a violation's evidence says of the punch: an arrival for these, a departure for those.
_ARRIVAL_SIDE = ("late", "absent", "missing_out")
_DEPARTURE_SIDE = ("early_leave", "missing_in")


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(shapes, policies, punch_lists, moments, st.data())
def test_a_punch_said_to_be_an_arrival_or_a_departure_is_never_read_as_the_other(
    shape: str, policy: Policy, punches: list[PunchFact], now: datetime, data: st.DataObject
) -> None:
    # A manual punch whose person said the session and the side (an approved "Quên chấm
    # công ra (sáng)") belongs to that session and is never the evidence of the other side,
    # whatever the device punches around it and the cut.
    if policy.punch_mode != "per_session":
        return  # first in / last out: a departure is also the evidence of the absences after
    day_plan = _plan(shape, MONDAY, policy)
    if not day_plan.sessions:
        return
    session = data.draw(st.sampled_from(day_plan.sessions))
    side = data.draw(st.sampled_from(["in", "out"]))
    said = PunchFact(
        99, data.draw(st.integers(session.window_start, session.window_end)), side, session.name
    )
    against = _DEPARTURE_SIDE if side == "in" else _ARRIVAL_SIDE
    # Its session: of those so named whose window holds it (a long shift's neighbours share
    # a name), the one whose scheduled span is nearest.
    t = said.at
    _, *owner = min(
        (max(s.start - t, t - s.end, 0), day, s.name)
        for day in (MONDAY - 2 * ONE, MONDAY - ONE, MONDAY, MONDAY + ONE, MONDAY + 2 * ONE)
        for s in _plan(shape, day, policy).sessions
        if s.name == session.name and s.contains(t)
    )
    for day in (MONDAY - ONE, MONDAY, MONDAY + ONE):
        for v in evaluate_day(
            _plan(shape, day, policy), policy, [*punches, said], [], now
        ).violations:
            if 99 in v.evidence:
                assert [day, v.session] == owner
                assert v.kind not in against, v
