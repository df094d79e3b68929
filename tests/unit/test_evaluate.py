"""The rules core at every boundary (table-driven), DOMAIN.md's defaults."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from rules.calendar import Margins, Schedule, Season, SessionSpec, office_hours
from rules.evaluate import Excuse, PunchFact, collapse_double_taps, evaluate_day
from rules.policy import Policy
from tests.unit.days import MONDAY, TZ, at, judge, kinds, local, plan

FULL_DAY = ("07:25", "11:35", "12:58", "17:03")


@pytest.mark.parametrize(
    ("arrival", "expected"),
    [
        ("07:30", []),
        ("07:35", []),  # exactly start + grace: on time
        ("07:35:01", [("morning", "late", 6)]),  # one second later: late
        ("07:36", [("morning", "late", 6)]),  # one minute past the grace
        ("08:10", [("morning", "late", 40)]),
        ("09:30", [("morning", "late", 120)]),  # exactly the absence threshold: still late
        ("09:31", [("morning", "absent", 240)]),  # beyond it: absent for the session
    ],
)
def test_arrival_against_the_grace_and_the_absence_threshold(
    arrival: str, expected: list[tuple[str, str, int]]
) -> None:
    result = judge(MONDAY, arrival, "11:35", "12:58", "17:03")
    assert kinds(result) == expected


@pytest.mark.parametrize(
    ("departure", "expected"),
    [
        ("17:00", []),
        ("16:55", []),  # exactly end − grace: not early
        ("16:54:59", [("afternoon", "early_leave", 6)]),
        ("16:54", [("afternoon", "early_leave", 6)]),
        ("15:00", [("afternoon", "early_leave", 120)]),
    ],
)
def test_departure_against_the_grace(departure: str, expected: list[tuple[str, str, int]]) -> None:
    assert kinds(judge(MONDAY, "07:25", "11:35", "12:58", departure)) == expected


def test_a_normal_day_is_present_with_its_minutes_worked() -> None:
    result = judge(MONDAY, *FULL_DAY)
    assert result.status == "present" and result.violations == ()
    assert result.first_in == at(MONDAY, "07:25") and result.last_out == at(MONDAY, "17:03")
    assert result.worked_minutes == 480


def test_late_arrival_makes_the_day_late() -> None:
    result = judge(MONDAY, "07:50", "11:35", "12:58", "17:03")
    assert result.status == "late"


def test_no_punch_at_all_is_absent_for_both_sessions() -> None:
    result = judge(MONDAY)
    assert kinds(result) == [("afternoon", "absent", 240), ("morning", "absent", 240)]
    assert result.status == "absent"


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (date(2026, 11, 24), "Ngày Văn hóa Việt Nam"),
        (date(2026, 1, 1), "Tết Dương lịch"),
        (date(2026, 2, 17), "Tết Nguyên Đán"),  # lunar
        (date(2026, 4, 27), "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"),  # lunar, compensatory
        (date(2026, 8, 31), "Ngày nghỉ"),  # swapped day off (nghỉ bù for 22/08)
    ],
)
def test_public_holidays_have_no_violations(day: date, label: str) -> None:
    result = judge(day)
    assert result.status == "holiday" and result.violations == ()
    assert result.label is not None and result.label.startswith(label.split(" (")[0][:8])


def test_a_punch_on_a_holiday_is_not_a_violation_and_is_recorded() -> None:
    result = judge(date(2026, 11, 24), "08:00", "11:00")
    assert result.status == "holiday" and result.violations == ()
    assert result.first_in == at(date(2026, 11, 24), "08:00")


def test_a_swapped_working_saturday_is_a_working_day() -> None:
    saturday = date(2026, 8, 22)  # làm bù
    assert saturday.weekday() == 5
    assert judge(saturday).status == "absent"
    assert judge(saturday, *FULL_DAY).status == "present"
    assert judge(date(2026, 8, 29)).status == "weekend"


def test_half_day_leave_clears_only_its_session() -> None:
    leave = Excuse(1, "annual_leave", MONDAY, MONDAY, frozenset({"morning"}))
    result = judge(MONDAY, "12:58", "17:03", excuses=[leave])
    assert result.violations == () and result.status == "present"
    assert result.excused == (("morning", "annual_leave"),)
    nothing = judge(MONDAY, excuses=[leave])
    assert kinds(nothing) == [("afternoon", "absent", 240)] and nothing.status == "absent"


def test_whole_day_business_trip_is_on_leave() -> None:
    trip = Excuse(2, "business_trip", MONDAY - timedelta(days=1), MONDAY + timedelta(days=2))
    result = judge(MONDAY, excuses=[trip])
    assert result.status == "on_leave" and result.violations == ()


def test_pending_leave_marks_the_violation_instead_of_clearing_it() -> None:
    pending = Excuse(7, "sick_leave", MONDAY, MONDAY, status="pending")
    result = judge(MONDAY, excuses=[pending])
    assert {v.pending_excuse for v in result.violations} == {7}
    assert result.status == "absent"


def test_double_taps_are_one_punch() -> None:
    result = judge(MONDAY, "07:28", "07:28:40", "07:29:50", "11:35", "12:58", "17:03")
    assert result.violations == ()
    # Measured from the last kept punch: 120 s later is the same punch, 121 s a new one.
    taps = [PunchFact(1, 100), PunchFact(2, 150), PunchFact(3, 220), PunchFact(4, 400)]
    assert [p.id for p in collapse_double_taps(taps, 120)] == [1, 4]
    taps[2] = PunchFact(3, 221)
    assert [p.id for p in collapse_double_taps(taps, 120)] == [1, 3, 4]


def test_punches_only_on_the_way_in_are_missing_check_outs() -> None:
    result = judge(MONDAY, "07:25", "12:58")
    assert kinds(result) == [("afternoon", "missing_out", 0), ("morning", "missing_out", 0)]
    assert result.status == "present"


def test_missing_punches_can_be_ignored_by_policy() -> None:
    ignoring = Policy(missing_punch="ignore")
    assert judge(MONDAY, "07:25", "12:58", policy=ignoring).violations == ()
    assert kinds(judge(MONDAY, "07:50", policy=ignoring)) == [
        ("afternoon", "absent", 240),
        ("morning", "late", 20),
    ]


def test_punches_only_on_the_way_out_are_missing_check_ins_not_early_departures() -> None:
    # With the break cut in the middle (12:15), 11:35 is the morning's departure.
    result = judge(MONDAY, "11:35", "17:03", policy=Policy(break_cut="middle"))
    assert kinds(result) == [("afternoon", "missing_in", 0), ("morning", "missing_in", 0)]
    # With DOMAIN.md's cut (the default, the morning's end), it is the afternoon's arrival.
    assert kinds(judge(MONDAY, "11:35", "17:03")) == [("morning", "absent", 240)]
    assert kinds(judge(MONDAY, "11:30", "17:03")) == [  # on the cut: the morning's
        ("afternoon", "missing_in", 0),
        ("morning", "missing_in", 0),
    ]


def test_lunch_punches_belong_to_the_morning_even_after_its_end() -> None:
    hanoi = office_hours(("08:00", "12:00"), ("13:00", "17:00"))
    result = judge(MONDAY, "07:55", "12:09", "12:50", "17:01", schedule=hanoi)
    assert result.violations == ()


def test_a_night_shift_across_midnight_belongs_to_the_day_it_starts() -> None:
    night = Schedule(
        name="Trực đêm",
        rota=((SessionSpec("night", time(22, 0), time(6, 0)),), ()),
        rota_anchor=MONDAY,
        observes_holidays=False,
    )
    result = judge(
        MONDAY, "21:55", "+1 06:02", schedule=night, now=local(MONDAY + timedelta(days=2), "00:00")
    )
    assert result.violations == () and result.status == "present"
    assert result.worked_minutes == 480
    late = judge(
        MONDAY, "22:20", "+1 05:30", schedule=night, now=local(MONDAY + timedelta(days=2), "00:00")
    )
    assert kinds(late) == [("night", "early_leave", 30), ("night", "late", 20)]
    assert plan(MONDAY + timedelta(days=1), schedule=night).kind == "off_shift"


def test_seasonal_hours_switch_on_the_provinces_dates() -> None:
    summer = (
        SessionSpec("morning", time(7, 0), time(11, 30)),
        SessionSpec("afternoon", time(13, 30), time(17, 0)),
    )
    winter = (
        SessionSpec("morning", time(7, 30), time(11, 30)),
        SessionSpec("afternoon", time(13, 0), time(17, 0)),
    )
    seasonal = Schedule(
        name="Theo mùa", seasons=(Season((4, 15), summer), Season((10, 15), winter))
    )
    june, november, april_14 = date(2026, 6, 1), date(2026, 11, 23), date(2026, 4, 14)
    assert kinds(judge(june, "07:10", "11:31", "12:58", "17:01", schedule=seasonal)) == [
        ("morning", "late", 10)
    ]
    assert kinds(judge(november, "07:10", "11:31", "12:58", "17:01", schedule=seasonal)) == []
    assert kinds(judge(april_14, "07:10", "11:31", "12:58", "17:01", schedule=seasonal)) == []


def test_a_one_stop_desk_works_saturday_morning() -> None:
    desk = Schedule(
        name="Một cửa",
        weekdays=frozenset(range(5)),
        seasons=office_hours().seasons,
        weekday_sessions=((5, (SessionSpec("morning", time(7, 30), time(11, 30)),)),),
    )
    saturday = date(2026, 11, 28)
    assert kinds(judge(saturday, schedule=desk)) == [("morning", "absent", 240)]
    assert judge(saturday, "07:20", "11:40", schedule=desk).violations == ()
    assert judge(date(2026, 11, 29), schedule=desk).status == "weekend"


class TestWhatIsKnowableWhen:
    def test_lateness_is_known_at_the_first_punch(self) -> None:
        result = judge(MONDAY, "07:45", now=local(MONDAY, "07:46"))
        assert kinds(result) == [("morning", "late", 15)]

    def test_absence_only_after_the_session_deadline(self) -> None:
        assert judge(MONDAY, now=local(MONDAY, "09:29")).violations == ()
        assert judge(MONDAY, now=local(MONDAY, "09:29")).status == "pending"
        assert kinds(judge(MONDAY, now=local(MONDAY, "09:30"))) == [("morning", "absent", 240)]

    def test_early_departure_and_missing_check_out_only_after_the_day_closes(self) -> None:
        during = judge(MONDAY, "07:25", "11:35", "12:58", "15:00", now=local(MONDAY, "16:00"))
        assert during.violations == () and not during.closed
        closes = plan(MONDAY).closes_at
        assert closes == at(MONDAY, "21:00")
        after = judge(MONDAY, "07:25", "11:35", "12:58", "15:00", now=local(MONDAY, "21:00"))
        assert kinds(after) == [("afternoon", "early_leave", 120)] and after.closed

    def test_a_backlog_punch_withdraws_the_absence(self) -> None:
        before = judge(MONDAY, now=local(MONDAY, "10:00"))
        assert kinds(before) == [("morning", "absent", 240)]
        after = judge(MONDAY, "07:28", now=local(MONDAY, "10:00"))
        assert after.violations == ()

    def test_decisions_a_lagging_reader_could_disprove_are_provisional(self) -> None:
        lagging = judge(MONDAY, now=local(MONDAY, "10:00"), complete_until=local(MONDAY, "07:20"))
        assert [v.provisional for v in lagging.violations] == [True]
        caught_up = judge(MONDAY, now=local(MONDAY, "10:00"), complete_until=local(MONDAY, "09:59"))
        assert [v.provisional for v in caught_up.violations] == [False]


class TestFirstInLastOut:
    POLICY = Policy(punch_mode="per_day")

    @pytest.mark.parametrize(
        ("times", "expected"),
        [
            (("07:25", "17:03"), []),
            (("07:40", "16:30"), [("afternoon", "early_leave", 30), ("morning", "late", 10)]),
            (("07:25",), [("afternoon", "missing_out", 0)]),
            (("17:03",), [("morning", "missing_in", 0)]),
            (("10:00", "17:03"), [("morning", "absent", 240)]),
            (("07:25", "11:35"), [("afternoon", "absent", 240)]),
            (("07:25", "11:00"), [("afternoon", "absent", 240), ("morning", "early_leave", 30)]),
            ((), [("afternoon", "absent", 240), ("morning", "absent", 240)]),
        ],
    )
    def test_two_punches_a_day(
        self, times: tuple[str, ...], expected: list[tuple[str, str, int]]
    ) -> None:
        assert kinds(judge(MONDAY, *times, policy=self.POLICY)) == expected

    def test_minutes_worked_exclude_the_lunch_break(self) -> None:
        assert judge(MONDAY, "07:25", "17:03", policy=self.POLICY).worked_minutes == 480


def test_configurable_policy_changes_the_verdict() -> None:
    strict = Policy(late_grace_s=0)
    assert kinds(judge(MONDAY, "07:31", "11:35", "12:58", "17:03", policy=strict)) == [
        ("morning", "late", 1)
    ]
    lenient = Policy(late_grace_s=15 * 60, absent_after_late_s=60 * 60)
    assert kinds(judge(MONDAY, "07:44", "11:35", "12:58", "17:03", policy=lenient)) == []
    assert kinds(judge(MONDAY, "08:31", "11:35", "12:58", "17:03", policy=lenient)) == [
        ("morning", "absent", 240)
    ]


def test_windows_are_bounded_by_margins_and_overlap_in_the_break() -> None:
    day = plan(MONDAY, policy=Policy(margins=Margins(early_arrival_s=3600, late_departure_s=3600)))
    morning, afternoon = day.sessions
    assert morning.window_start == at(MONDAY, "06:30")
    assert morning.window_end == at(MONDAY, "12:30")
    assert afternoon.window_start == at(MONDAY, "12:00")  # the overlap is read in order
    assert afternoon.window_end == at(MONDAY, "18:00")
    assert (day.reads_from, day.reads_until) == (at(MONDAY, "06:30"), at(MONDAY, "18:00"))
    stray = evaluate_day(
        day, Policy(), [PunchFact(1, at(MONDAY, "05:00"))], [], local(MONDAY, "23:00")
    )
    assert stray.first_in is None  # outside every window: not evidence of attendance
    assert TZ.key == "Asia/Ho_Chi_Minh"
