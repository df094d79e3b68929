"""Which session a punch belongs to and which excuse wins: the nine cases of issue 9."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from pydantic import ValidationError

from rules.attribution import attribute, bursts, layout
from rules.calendar import Margins, Schedule, Season, SessionSpec
from rules.config import RulesDoc, SessionNameError, resolve_session_names
from rules.evaluate import DayResult, Excuse, PunchFact, evaluate_day
from rules.policy import Policy
from tests.unit.days import DEFAULT_POLICY, MONDAY, at, judge, kinds, local, plan, punches

JULY_14, JULY_15 = date(2026, 7, 14), date(2026, 7, 15)


def test_back_early_from_lunch_is_an_ordinary_day() -> None:
    # Case 1: 11:32 is the morning's departure and 12:10 the afternoon's arrival.
    result = judge(MONDAY, "07:25", "11:32", "12:10", "17:03")
    assert result.violations == ()
    assert result.worked_minutes == 480


def test_a_retap_minutes_after_arriving_is_not_a_departure() -> None:
    # Case 2: no lunch-out; the retap at 07:28:10 leaves the morning without a departure.
    result = judge(MONDAY, "07:25:00", "07:28:10", "12:58", "17:05")
    assert kinds(result) == [("morning", "missing_out", 0)]
    assert result.violations[0].evidence == (1,)


def test_a_retap_after_the_afternoon_arrival_is_not_an_early_departure() -> None:
    result = judge(MONDAY, "07:25", "11:35", "12:58", "13:04")
    assert kinds(result) == [("afternoon", "missing_out", 0)]


NARROW = Policy(margins=Margins(early_arrival_s=90 * 60, late_departure_s=15 * 60))


def test_a_punch_only_the_afternoon_window_holds_is_the_afternoon_s() -> None:
    # Case 3: the morning's window ends 11:45, the afternoon's opens 11:30.
    alone = judge(MONDAY, "12:05", policy=NARROW)
    assert kinds(alone) == [("afternoon", "missing_out", 0), ("morning", "absent", 240)]
    assert judge(MONDAY, "07:25", "11:31", "12:05", "17:01", policy=NARROW).violations == ()


NIGHT_THEN_MORNING = Schedule(
    name="Trực đêm rồi ca sáng",
    rota=(
        (SessionSpec("night", time(22, 0), time(8, 0)),),
        (SessionSpec("morning", time(7, 30), time(11, 30)),),
    ),
    rota_anchor=JULY_14,
    observes_holidays=False,
)


def test_a_punch_between_a_night_shift_and_the_next_morning_belongs_to_one_session() -> None:
    # Case 4: 07:45 on 15/07 is the night's departure (cut at the night's scheduled end).
    later = local(JULY_15 + timedelta(days=2), "00:00")
    night = judge(JULY_14, "+1 07:45", schedule=NIGHT_THEN_MORNING, now=later)
    morning = judge(JULY_15, "07:45", schedule=NIGHT_THEN_MORNING, now=later)
    assert kinds(night) == [("night", "early_leave", 15), ("night", "missing_in", 0)]
    assert {v.evidence for v in night.violations} == {(1,)}
    assert kinds(morning) == [("morning", "absent", 240)]
    assert morning.violations[0].evidence == () and morning.first_in is None


def test_the_night_shift_s_neighbour_is_read_with_it() -> None:
    day = plan(JULY_15, schedule=NIGHT_THEN_MORNING)
    assert [s.name for s in day.before] == ["night"]
    assert day.reads_from == at(JULY_14, "20:00")


def test_a_rota_keeps_its_shift_on_a_swapped_working_saturday() -> None:
    # Case 5: 22/08/2026 is làm bù; a rota's shift that day is a working day.
    every_day = Schedule(
        name="Ca ngày",
        rota=((SessionSpec("day", time(7, 30), time(17, 0)),),),
        rota_anchor=date(2026, 1, 1),
        observes_holidays=True,
    )
    saturday = date(2026, 8, 22)
    assert plan(saturday, schedule=every_day).kind == "working"
    result = judge(saturday, "09:00", schedule=every_day)
    assert kinds(result) == [("day", "late", 90), ("day", "missing_out", 0)]
    assert result.status == "late"


@pytest.mark.parametrize("trip_first", [True, False])
def test_leave_wins_over_a_business_trip_whatever_the_order(trip_first: bool) -> None:
    # Case 6: the same facts give the same day record whatever order they were stored in.
    trip = Excuse(1, "business_trip", JULY_14, JULY_15)
    leave = Excuse(2, "annual_leave", JULY_15, JULY_15)
    stored = [trip, leave] if trip_first else [leave, trip]
    result = judge(JULY_15, excuses=stored)
    assert result.excused == (("morning", "annual_leave"), ("afternoon", "annual_leave"))
    assert judge(JULY_14, excuses=stored).excused[0] == ("morning", "business_trip")


def test_pending_excuses_are_chosen_by_the_same_precedence() -> None:
    trip = Excuse(5, "business_trip", MONDAY, MONDAY, status="pending")
    sick = Excuse(9, "sick_leave", MONDAY, MONDAY, status="pending")
    for stored in ([trip, sick], [sick, trip]):
        assert {v.pending_excuse for v in judge(MONDAY, excuses=stored).violations} == {9}


@pytest.mark.parametrize("cut", ["earlier_end", "middle", "later_start"])
def test_half_a_day_of_leave_is_left_or_started_at_lunch_not_forgotten(cut: str) -> None:
    policy = Policy(break_cut=cut)  # type: ignore[arg-type]
    afternoon_off = [Excuse(1, "annual_leave", MONDAY, MONDAY, frozenset({"afternoon"}))]
    # Out at 11:40 for the afternoon's leave: the morning's departure (it used to be given
    # to the excused afternoon, leaving the morning a forgotten check-out, 0 minutes worked).
    out = judge(MONDAY, "07:25", "11:40", excuses=afternoon_off, policy=policy)
    assert out.violations == ()
    assert out.worked_minutes == 240
    assert judge(MONDAY, "07:25", "12:50", excuses=afternoon_off, policy=policy).violations == ()
    morning_off = [Excuse(2, "sick_leave", MONDAY, MONDAY, frozenset({"morning"}))]
    for arrival in ("11:35", "12:10", "12:58"):
        back = judge(MONDAY, arrival, "17:03", excuses=morning_off, policy=policy)
        assert back.violations == (), arrival
    # Pending leave may be refused: the punches are read as without it, flagged as waiting.
    pending = [Excuse(3, "annual_leave", MONDAY, MONDAY, frozenset({"afternoon"}), "pending")]
    waiting = judge(MONDAY, "07:25", "11:40", excuses=pending, policy=policy)
    assert kinds(waiting) == kinds(judge(MONDAY, "07:25", "11:40", policy=policy))
    assert {(v.session, v.pending_excuse) for v in waiting.violations} >= {("afternoon", 3)}


def test_session_names_are_the_schedule_s_own_with_vietnamese_aliases() -> None:
    # Case 7: what a clerk types is accepted; an unknown name is refused with the valid ones.
    known = ["morning", "afternoon"]
    assert resolve_session_names(["sáng", "Buổi chiều"], known) == {"morning", "afternoon"}
    assert resolve_session_names(["Ca 1"], ["Ca 1", "Ca 2"]) == {"Ca 1"}
    with pytest.raises(SessionNameError, match=r"'tối'.*morning \(sáng\), afternoon \(chiều\)"):
        resolve_session_names(["tối"], known)
    assert RulesDoc().schedule.session_names() == ["morning", "afternoon"]


def test_duplicate_session_names_are_refused_when_the_rules_are_loaded() -> None:
    # Case 9: two sessions of one day with one name would make two violations with one identity.
    twice = {"name": "morning", "start": "07:30:00", "end": "11:30:00"}
    again = {"name": "morning", "start": "13:00:00", "end": "17:00:00"}
    with pytest.raises(ValidationError, match="tên ca trùng nhau trong sessions: morning"):
        RulesDoc.model_validate({"schedule": {"sessions": [twice, again]}})
    with pytest.raises(ValidationError, match=r"rota.days\[1\]"):
        RulesDoc.model_validate(
            {"schedule": {"rota": {"anchor": "2026-07-14", "days": [[twice], [twice, again]]}}}
        )


def test_a_single_break_punch_is_decided_by_the_configured_cut() -> None:
    # Both sessions lack the side a lone lunch punch would give: only the cut can decide.
    # The default is DOMAIN.md's: the earlier session's scheduled end (11:30).
    assert Policy().break_cut == "earlier_end"
    assert kinds(judge(MONDAY, "07:25", "11:32", "17:03")) == [("morning", "missing_out", 0)]
    assert kinds(judge(MONDAY, "07:25", "11:30", "17:03")) == [("afternoon", "missing_in", 0)]
    middle = Policy(break_cut="middle")
    assert kinds(judge(MONDAY, "07:25", "12:10", "17:03", policy=middle)) == [
        ("afternoon", "missing_in", 0)
    ]
    assert kinds(judge(MONDAY, "07:25", "12:20", "17:03", policy=middle)) == [
        ("morning", "missing_out", 0)
    ]
    at_start = Policy(break_cut="later_start")
    assert kinds(judge(MONDAY, "07:25", "12:50", "17:03", policy=at_start)) == [
        ("afternoon", "missing_in", 0)
    ]


def test_a_single_break_punch_completes_the_session_that_lacks_a_side() -> None:
    # The afternoon already has an on-time arrival: 12:40 is the morning's lunch-out.
    assert judge(MONDAY, "07:25", "12:40", "13:04", "17:03").violations == ()
    # The morning already has an on-time departure: 11:50 is the afternoon's arrival.
    assert judge(MONDAY, "07:25", "11:28", "11:50", "17:03").violations == ()
    # Only one session has punches of its own: the cut decides (DOMAIN.md's, by default).
    assert kinds(judge(MONDAY, "07:25", "11:35")) == [
        ("afternoon", "missing_out", 0),
        ("morning", "missing_out", 0),
    ]
    middle = Policy(break_cut="middle")
    assert kinds(judge(MONDAY, "07:25", "11:35", policy=middle)) == [("afternoon", "absent", 240)]
    # In at lunch for the afternoon: the morning has no punch, 12:55 is the arrival.
    assert kinds(judge(MONDAY, "12:55", "17:05")) == [("morning", "absent", 240)]


@pytest.mark.parametrize("cut", ["earlier_end", "middle", "later_start"])
def test_a_late_return_from_lunch_is_late_not_a_forgotten_lunch_out(cut: str) -> None:
    # The lunch-out is the only break punch; the afternoon has its own arrival, late. The
    # morning lacks a departure and the afternoon does not lack an arrival: the break punch
    # is the morning's departure, whatever the cut. (It used to become the afternoon's
    # on-time arrival: the morning got a missing_out and the 60 minutes late disappeared.)
    policy = Policy(break_cut=cut)  # type: ignore[arg-type]
    late = judge(MONDAY, "07:25", "11:31", "13:10", "17:03", policy=policy)
    assert kinds(late) == [("afternoon", "late", 10)]
    assert late.worked_minutes == 240 + 230
    assert kinds(judge(MONDAY, "07:25", "12:20", "14:00", "17:03", policy=policy)) == [
        ("afternoon", "late", 60)
    ]
    # The mirror: the morning has its own departure, early; the afternoon has none of its own.
    assert kinds(judge(MONDAY, "07:25", "11:20", "12:50", "17:03", policy=policy)) == [
        ("morning", "early_leave", 10)
    ]


THREE_SESSIONS = Schedule(
    name="Ba buổi",
    seasons=(
        Season(
            (1, 1),
            (
                SessionSpec("early", time(7, 0), time(9, 0)),
                SessionSpec("morning", time(9, 15), time(11, 30)),
                SessionSpec("afternoon", time(13, 0), time(17, 0)),
            ),
        ),
    ),
)


def test_a_middle_session_arriving_in_a_short_break_reads_its_lunch_out_too() -> None:
    # 09:14 is the morning's arrival, given by the short break before it (its window and
    # the early session's overlap there); 11:31 is then the morning's departure and the
    # afternoon is late, as in a two-session day. It used to be a morning missing_out.
    late = judge(
        MONDAY, "06:55", "09:01", "09:14", "11:31", "13:10", "17:03", schedule=THREE_SESSIONS
    )
    assert kinds(late) == [("afternoon", "late", 10)]
    ordinary = judge(
        MONDAY, "06:55", "09:01", "09:14", "11:31", "12:55", "17:03", schedule=THREE_SESSIONS
    )
    assert ordinary.violations == ()


def test_a_break_punch_on_a_window_s_first_second_is_read_like_the_next_second() -> None:
    # With a 30-minute early margin the afternoon's window opens at 12:30, after the
    # morning's end (the default cut): every punch of the break is past that cut, 12:30:00
    # too (it used to be clamped onto the cut and given to the morning).
    short = Policy(margins=Margins(early_arrival_s=30 * 60, late_departure_s=120 * 60))
    on_edge = judge(MONDAY, "07:25", "11:28", "12:30:00", policy=short)
    assert kinds(on_edge) == kinds(judge(MONDAY, "07:25", "11:28", "12:30:01", policy=short))
    assert kinds(on_edge) == [("afternoon", "missing_out", 0)]


def test_a_stray_tap_after_arriving_is_not_the_departure_when_a_later_one_exists() -> None:
    # 07:36 is past the retap window (10 min) but 11:35 is the morning's last punch: the
    # departure of a session is its last punch, never the first one past the retap window.
    assert judge(MONDAY, "07:25", "07:36", "11:35", "12:55", "17:05").violations == ()
    assert judge(MONDAY, "07:25", "07:36", "11:35", "13:02", "17:05").violations == ()
    assert judge(MONDAY, "07:25", "07:36", "11:35", "17:05").violations != ()
    for cut in ("earlier_end", "middle", "later_start"):
        policy = Policy(break_cut=cut)
        assert judge(MONDAY, "07:25", "07:36", "11:35", "12:55", "17:05", policy=policy) == (
            judge(MONDAY, "07:25", "11:35", "12:55", "17:05", policy=policy)
        )


def test_a_stray_tap_inside_the_afternoon_is_not_its_departure_either() -> None:
    assert judge(MONDAY, "07:25", "11:35", "12:55", "13:30", "17:05").violations == ()
    assert judge(MONDAY, "07:25", "11:35", "12:55", "15:10", "17:05").violations == ()
    # The afternoon's arrival is its first punch: a later stray tap does not make it late.
    assert judge(MONDAY, "07:25", "11:35", "12:55", "16:40", "17:05").violations == ()


def test_a_stray_tap_in_a_one_session_day_or_a_night_shift_is_not_its_departure() -> None:
    saturday = Schedule(
        name="Một cửa sáng thứ Bảy",
        rota=((SessionSpec("morning", time(7, 30), time(11, 30)),),),
        rota_anchor=MONDAY,
        observes_holidays=False,
    )
    assert judge(MONDAY, "07:25", "07:40", "11:33", schedule=saturday).violations == ()
    later = local(JULY_15 + timedelta(days=2), "00:00")
    night = judge(
        JULY_14, "21:55", "22:20", "+1 03:00", "+1 07:58", schedule=NIGHT_THEN_MORNING, now=later
    )
    assert night.violations == ()


def test_each_burst_goes_to_at_most_one_session() -> None:
    day = plan(MONDAY)
    found = bursts(punches(MONDAY, "07:25", "11:32", "11:33", "12:10", "17:03"), 600)
    attributed = attribute(layout(day.context), found)
    assert [[b.first_id for b in bs] for bs in attributed] == [[1, 2], [4, 5]]
    assert attributed[0][-1].last_id == 3  # 11:33 is 11:32's retap


def test_a_night_shift_next_to_a_morning_closes_at_its_cut() -> None:
    # No punch after the night's scheduled end can be the night's: its day closes there.
    assert plan(JULY_14, schedule=NIGHT_THEN_MORNING).closes_at == at(JULY_15, "08:00")
    assert plan(MONDAY).closes_at == at(MONDAY, "21:00")


def test_first_in_last_out_reads_a_retap_as_the_arrival_repeated() -> None:
    per_day = Policy(punch_mode="per_day")
    assert kinds(judge(MONDAY, "07:25", "07:31", policy=per_day)) == [
        ("afternoon", "missing_out", 0)
    ]
    assert kinds(judge(MONDAY, "07:25", "16:58", "17:04", policy=per_day)) == []


def test_a_night_shift_s_departure_is_not_the_next_day_off_s_attendance() -> None:
    nights = Schedule(
        name="Trực đêm",
        rota=((SessionSpec("night", time(22, 0), time(6, 0)),), ()),
        rota_anchor=MONDAY,
        observes_holidays=False,
    )
    tuesday = MONDAY + timedelta(days=1)
    off = judge(tuesday, "05:40", "15:00", schedule=nights)
    assert off.status == "off_shift" and off.first_in == at(tuesday, "15:00")
    assert off.last_out is None


def test_taps_before_a_session_starts_are_its_arrival_repeated_never_its_departure() -> None:
    # 07:05 and 07:20 are past the retap window of each other, yet both come before the
    # morning starts: the morning has no departure (missing_out), not a 250-minute early leave.
    assert kinds(judge(MONDAY, "07:05", "07:20", "12:55", "17:05")) == [
        ("morning", "missing_out", 0)
    ]
    assert kinds(judge(MONDAY, "07:05", "07:30")) == [
        ("afternoon", "absent", 240),
        ("morning", "missing_out", 0),
    ]
    # One second past the start is a departure (the boundary is the session's start).
    assert ("morning", "early_leave", 240) in kinds(judge(MONDAY, "07:05", "07:30:01"))
    # The same for the afternoon: 12:40 and 12:59 back from lunch are its arrival.
    assert kinds(judge(MONDAY, "07:25", "11:35", "12:40", "12:59")) == [
        ("afternoon", "missing_out", 0)
    ]
    # First in / last out: the day has no departure, not two absences.
    per_day = Policy(punch_mode="per_day")
    assert kinds(judge(MONDAY, "07:05", "07:20", policy=per_day)) == [
        ("afternoon", "missing_out", 0)
    ]


SHORT_BREAK = Schedule(
    name="Nghỉ trưa ngắn",
    seasons=(
        Season(
            (1, 1),
            (
                SessionSpec("morning", time(7, 30), time(11, 30)),
                SessionSpec("afternoon", time(11, 45), time(16, 30)),
            ),
        ),
    ),
)


def test_a_break_shorter_than_the_retap_window_still_reads_out_and_back() -> None:
    result = judge(MONDAY, "07:25", "11:31", "11:40", "16:35", schedule=SHORT_BREAK)
    assert result.violations == ()


@pytest.mark.parametrize("cut", ["earlier_end", "middle", "later_start"])
@pytest.mark.parametrize(
    "taps",
    [("11:31:00", "11:31:02"), ("12:58:00", "12:58:03"), ("11:40:00", "11:41:30")],
)
def test_a_double_tap_in_the_break_is_one_punch_and_one_session_s(
    cut: str, taps: tuple[str, str]
) -> None:
    # A reader that did not beep, tapped again within the double-tap window: one punch
    # (DOMAIN.md), so it is one session's and the other still misses its side; it used to
    # be split into the morning's departure and the afternoon's arrival, withdrawing a
    # forgotten punch (tapping twice anywhere in the break cleared it).
    policy = Policy(break_cut=cut)  # type: ignore[arg-type]
    twice = judge(MONDAY, "07:25", *taps, "17:05", policy=policy)
    once = judge(MONDAY, "07:25", taps[0], "17:05", policy=policy)
    assert kinds(twice) == kinds(once)
    assert [k for _, k, _ in kinds(twice)] in (["missing_out"], ["missing_in"])
    assert twice.worked_minutes == once.worked_minutes == 240


EVENING = Schedule(
    name="Ba buổi có buổi tối",
    seasons=(
        Season(
            (1, 1),
            (
                SessionSpec("morning", time(7, 30), time(11, 30)),
                SessionSpec("afternoon", time(13, 0), time(17, 0)),
                SessionSpec("evening", time(18, 0), time(22, 0)),
            ),
        ),
    ),
)


def test_a_middle_session_with_both_punches_in_its_breaks_keeps_its_arrival() -> None:
    policy = Policy(
        break_cut="later_start", margins=Margins(early_arrival_s=30 * 60, late_departure_s=7200)
    )
    result = judge(
        MONDAY, "07:00", "11:30", "12:30", "17:30", "17:35", "22:00",
        schedule=EVENING, policy=policy,
    )  # fmt: skip
    assert result.violations == ()


def _said(day: date, hhmm: str, side: str, session: str, pid: int = 50) -> PunchFact:
    """A manual punch whose person said the session and the side (an approved request)."""
    return PunchFact(pid, at(day, hhmm), side, session)


def _judge_with(*facts: PunchFact, policy: Policy = DEFAULT_POLICY) -> DayResult:
    return evaluate_day(
        plan(MONDAY, policy=policy), policy, facts, [], local(MONDAY + timedelta(days=1), "06:00")
    )


@pytest.mark.parametrize("cut", ["earlier_end", "middle", "later_start"])
def test_a_forgotten_lunch_out_said_to_be_the_morning_s_is_its_departure(cut: str) -> None:
    # "Quên chấm công ra (sáng)" at 11:35, approved: the morning's departure, never the
    # afternoon's arrival (under earlier_end the cut gave it to the afternoon, so the
    # request withdrew the afternoon's missing_in and left the morning's missing_out).
    policy = Policy(break_cut=cut)  # type: ignore[arg-type]
    device = punches(MONDAY, "07:25", "17:03")
    result = _judge_with(*device, _said(MONDAY, "11:35", "out", "morning"), policy=policy)
    assert kinds(result) == [("afternoon", "missing_in", 0)]
    assert result.violations[0].evidence == (2,)


@pytest.mark.parametrize("cut", ["earlier_end", "middle", "later_start"])
def test_a_forgotten_return_said_to_be_the_afternoon_s_is_its_arrival(cut: str) -> None:
    policy = Policy(break_cut=cut)  # type: ignore[arg-type]
    device = punches(MONDAY, "07:25", "17:03")
    result = _judge_with(*device, _said(MONDAY, "11:40", "in", "afternoon"), policy=policy)
    assert kinds(result) == [("morning", "missing_out", 0)]
    both = _judge_with(
        *device,
        _said(MONDAY, "11:33", "out", "morning", 50),
        _said(MONDAY, "11:40", "in", "afternoon", 51),  # within the retap window of 11:33
        policy=policy,
    )
    assert both.violations == ()
    assert both.worked_minutes == 480


def test_a_said_side_is_kept_even_where_the_midpoint_would_read_the_other() -> None:
    # Out at 09:00 (said so, approved), nothing else in the morning: a departure, so the
    # morning has no arrival and left early; the midpoint would have read an arrival.
    result = _judge_with(
        _said(MONDAY, "09:00", "out", "morning"), *punches(MONDAY, "12:55", "17:03")
    )
    assert kinds(result) == [("morning", "early_leave", 150), ("morning", "missing_in", 0)]
    # In at 07:40 after a device tap at 07:20: not a departure (no 230-minute early leave).
    late_in = _judge_with(
        *punches(MONDAY, "07:20", "12:55", "17:03"), _said(MONDAY, "07:40", "in", "morning")
    )
    assert kinds(late_in) == [("morning", "missing_out", 0)]


def test_a_reader_s_direction_is_a_hint_and_a_manual_punch_without_a_session_is_read_in_order() -> (
    None
):
    # A reader's "out" at 12:55 (a mislabelled key) is still the afternoon's arrival, and a
    # manual punch whose session is not on the plan (a schedule changed since) is read in
    # order like any punch.
    device = [
        PunchFact(1, at(MONDAY, "07:25")),
        PunchFact(2, at(MONDAY, "11:33"), "out"),
        PunchFact(3, at(MONDAY, "12:55"), "out"),
        PunchFact(4, at(MONDAY, "17:03"), "in"),
    ]
    assert _judge_with(*device).violations == ()
    stale = _judge_with(
        *punches(MONDAY, "07:25", "17:03"), _said(MONDAY, "11:35", "out", "evening")
    )
    assert kinds(stale) == [("morning", "missing_out", 0)]
