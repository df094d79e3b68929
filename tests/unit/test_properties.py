"""Invariants of the rules core, with hypothesis: order, idempotence, late backlogs, knowability."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.evaluate import PunchFact, collapse_double_taps, evaluate_day
from rules.policy import Policy
from rules.reconcile import StoredViolation, ViolationKey, apply_changes, reconcile
from tests.unit.days import MONDAY, at, local, plan

DAY_START = at(MONDAY, "05:00")
DAY_END = at(MONDAY, "22:00")
PLAN = plan(MONDAY)
FINAL = local(MONDAY + timedelta(days=1), "08:00")

instants = st.integers(min_value=DAY_START, max_value=DAY_END)
punch_lists = st.lists(instants, max_size=10).map(
    lambda ts: [PunchFact(i + 1, t) for i, t in enumerate(ts)]
)
policies = st.builds(
    Policy,
    late_grace_s=st.sampled_from([0, 300, 900]),
    early_grace_s=st.sampled_from([0, 300]),
    absent_after_late_s=st.sampled_from([3600, 7200]),
    punch_mode=st.sampled_from(["per_session", "per_day"]),
    double_tap_s=st.sampled_from([0, 60, 120]),
)
moments = st.integers(min_value=DAY_START, max_value=at(MONDAY + timedelta(days=1), "08:00")).map(
    lambda t: datetime.fromtimestamp(t, tz=local(MONDAY, "00:00").tzinfo)
)


@given(punch_lists, policies, moments, st.randoms())
def test_the_order_of_punches_does_not_change_the_result(
    punches: list[PunchFact], policy: Policy, now: datetime, rnd: random.Random
) -> None:
    shuffled = list(punches)
    rnd.shuffle(shuffled)
    assert evaluate_day(PLAN, policy, shuffled, [], now) == evaluate_day(
        PLAN, policy, punches, [], now
    )


@given(punch_lists, st.sampled_from([0, 60, 120]))
def test_collapsing_double_taps_is_idempotent(punches: list[PunchFact], window: int) -> None:
    once = collapse_double_taps(punches, window)
    assert collapse_double_taps(once, window) == once


@given(punch_lists, policies, moments)
def test_recomputing_is_idempotent(punches: list[PunchFact], policy: Policy, now: datetime) -> None:
    result = evaluate_day(PLAN, policy, punches, [], now)
    state = apply_changes({}, reconcile({}, result.violations))
    again = evaluate_day(PLAN, policy, punches, [], now)
    assert again == result
    assert reconcile(state, again.violations) == []


@given(punch_lists, policies, moments)
def test_a_day_judged_for_the_first_time_gives_what_the_general_comparison_gives(
    punches: list[PunchFact], policy: Policy, now: datetime
) -> None:
    # reconcile's shortcut for a key with nothing stored, against its general path (taken
    # when something is stored: here a withdrawn violation no evaluation gives again).
    fresh = evaluate_day(PLAN, policy, punches, [], now).violations
    elsewhere = {("no-such-session", "late"): StoredViolation(5, (), False, None, active=False)}
    first = reconcile({}, fresh)
    assert first == reconcile(elsewhere, fresh)
    assert [c.action for c in first] == ["detected"] * len(fresh)
    assert apply_changes({}, first) == {(v.session, v.kind): StoredViolation.of(v) for v in fresh}


def _deliver(
    punches: list[PunchFact], delays: list[int], policy: Policy, checkpoints: list[int]
) -> dict[ViolationKey, StoredViolation]:
    """Recompute at each checkpoint with the punches delivered by then; return the active state."""
    state: dict[ViolationKey, StoredViolation] = {}
    tz = local(MONDAY, "00:00").tzinfo
    for moment in sorted(checkpoints):
        known = [p for p, delay in zip(punches, delays, strict=True) if p.at + delay <= moment]
        now = datetime.fromtimestamp(moment, tz=tz)
        state = apply_changes(
            state, reconcile(state, evaluate_day(PLAN, policy, known, [], now).violations)
        )
    return {k: v for k, v in state.items() if v.active}


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(
    punch_lists,
    policies,
    st.data(),
    st.lists(st.integers(min_value=DAY_START, max_value=int(FINAL.timestamp())), max_size=12),
)
def test_a_late_backlog_converges_to_the_state_of_in_order_delivery(
    punches: list[PunchFact], policy: Policy, data: st.DataObject, checkpoints: list[int]
) -> None:
    # Some punches arrive late (a reader offline for up to 12 hours), in any order.
    delays = data.draw(
        st.lists(
            st.sampled_from([0, 0, 600, 3600, 12 * 3600]),
            min_size=len(punches),
            max_size=len(punches),
        )
    )
    # The last recompute comes after the last delivery, as the nightly reconciliation does.
    final = max([int(FINAL.timestamp())] + [p.at + d for p, d in zip(punches, delays, strict=True)])
    late = _deliver(punches, delays, policy, [*checkpoints, final])
    in_order = _deliver(punches, [0] * len(punches), policy, [*checkpoints, final])
    at_final = datetime.fromtimestamp(final, tz=FINAL.tzinfo)
    fresh = evaluate_day(PLAN, policy, punches, [], at_final)
    assert (
        late == in_order == {(v.session, v.kind): StoredViolation.of(v) for v in fresh.violations}
    )


@given(policies, moments)
def test_absence_appears_once_the_deadline_passes(policy: Policy, now: datetime) -> None:
    morning = PLAN.sessions[0]
    deadline = morning.start + policy.absent_after_late_s
    result = evaluate_day(PLAN, policy, [], [], now)
    absent = {v.session for v in result.violations if v.kind == "absent"}
    assert ("morning" in absent) == (now.timestamp() >= deadline)


@given(policies, st.integers(min_value=0, max_value=3000), moments)
def test_a_later_punch_that_proves_attendance_withdraws_the_absence(
    policy: Policy, early_by: int, now: datetime
) -> None:
    morning = PLAN.sessions[0]
    now = max(
        now, datetime.fromtimestamp(morning.start + policy.absent_after_late_s, tz=now.tzinfo)
    )
    before = evaluate_day(PLAN, policy, [], [], now)
    state = apply_changes({}, reconcile({}, before.violations))
    assert state[("morning", "absent")].active
    on_time = PunchFact(99, morning.start + min(policy.late_grace_s, 0) - early_by)
    after = evaluate_day(PLAN, policy, [on_time], [], now)
    changes = reconcile(state, after.violations)
    assert any(c.key == ("morning", "absent") and c.action == "withdrawn" for c in changes)
    assert not apply_changes(state, changes)[("morning", "absent")].active
