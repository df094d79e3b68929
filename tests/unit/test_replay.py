"""`kycuong replay`: the documented file formats in, JSON lines out; bad files named clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kycuong.cli import main
from kycuong.replay import ReplayError, parse_rules
from rules.config import RulesDoc
from tests.support import ROOT

EXAMPLES = ROOT / "examples"


def replay(
    capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, list[dict[str, object]], str]:
    code = main(["replay", *extra])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_the_examples_replay_into_day_records_and_violations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, records, _ = replay(
        capsys,
        "--policy",
        str(EXAMPLES / "policy.toml"),
        "--punches",
        str(EXAMPLES / "punches.jsonl"),
        "--excuses",
        str(EXAMPLES / "excuses.jsonl"),
        "--people",
        str(EXAMPLES / "people.txt"),
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-24",
        "--now",
        "2026-11-24T08:00:00+07:00",
    )
    assert code == 0
    days = {(r["person"], r["date"]): r for r in records if r["type"] == "day"}
    violations = {
        (r["person"], r["session"], r["kind"]): r for r in records if r["type"] == "violation"
    }
    assert days[("NV00001", "2026-11-23")]["status"] == "present"
    assert days[("NV00001", "2026-11-24")]["label"] == "Ngày Văn hóa Việt Nam"
    assert violations[("NV00002", "morning", "late")]["minutes"] == 18
    assert days[("NV00003", "2026-11-23")]["status"] == "on_leave"
    assert violations[("NV00004", "afternoon", "absent")]["pending_excuse"] == 2
    assert days[("NV00005", "2026-11-23")]["status"] == "absent"  # in the roster, never punched
    # A reader's export names the card; the people file says whose it is.
    assert ("NV00006", "morning", "missing_out") in violations
    assert violations[("NV00006", "morning", "missing_out")]["evidence"] == ["X"]  # event_id


def test_a_policy_change_is_tried_before_adopting_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lenient = tmp_path / "lenient.json"
    lenient.write_text(json.dumps({"policy": {"late_grace_minutes": 20}}))
    _, records, _ = replay(
        capsys,
        "--policy",
        str(lenient),
        "--punches",
        str(EXAMPLES / "punches.jsonl"),
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-23",
        "--now",
        "2026-11-24T08:00:00+07:00",
    )
    assert not [r for r in records if r["type"] == "violation" and r["kind"] == "late"]


@pytest.mark.parametrize(
    ("punch_line", "message"),
    [
        ('{"employee": "A", "at": "2026-11-23T07:30:00"}', "punches.jsonl:2"),  # no offset
        ("not json", "punches.jsonl:2"),
    ],
)
def test_a_bad_line_is_named_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], punch_line: str, message: str
) -> None:
    punches = tmp_path / "punches.jsonl"
    punches.write_text('{"employee": "A", "at": "2026-11-23T07:30:00+07:00"}\n' + punch_line + "\n")
    code, records, err = replay(
        capsys,
        "--policy",
        str(EXAMPLES / "policy.toml"),
        "--punches",
        str(punches),
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-23",
    )
    assert code == 2 and records == []
    assert message in err


def test_a_reversed_range_and_a_bad_policy_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = replay(
        capsys,
        "--policy",
        str(EXAMPLES / "policy.toml"),
        "--punches",
        str(EXAMPLES / "punches.jsonl"),
        "--from",
        "2026-11-24",
        "--to",
        "2026-11-23",
    )
    assert code == 2 and "--to trước --from" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"policy": {"late_grace_minutes": -1}}))
    code, _, err = replay(
        capsys,
        "--policy",
        str(bad),
        "--punches",
        str(EXAMPLES / "punches.jsonl"),
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-23",
    )
    assert (
        code == 2
        and "'policy.late_grace_minutes': -1 nhỏ hơn 0; chấp nhận số nguyên từ 0 đến 240" in err
    )
    assert f"{bad}:1:" in err


def _write(path: Path, *lines: object) -> str:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    return str(path)


DAY = ("--from", "2026-11-23", "--to", "2026-11-24", "--now", "2026-11-25T08:00:00+07:00")
POLICY = ("--policy", str(EXAMPLES / "policy.toml"))


def test_only_the_listed_people_are_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Case 8: an excuse for someone not listed does not make them judged on the other days.
    punches = _write(tmp_path / "p.jsonl", {"employee": "A", "at": "2026-11-23T07:20:00+07:00"})
    excuses = _write(
        tmp_path / "e.jsonl",
        {"employee": "B", "kind": "annual_leave", "from": "2026-11-23", "to": "2026-11-23"},
    )
    people = tmp_path / "people.txt"
    people.write_text("A\n")
    code, records, _ = replay(
        capsys, *POLICY, "--punches", punches, "--excuses", excuses, "--people", str(people), *DAY
    )
    assert code == 0 and {r["person"] for r in records} == {"A"}


def test_excuse_sessions_accept_vietnamese_names_and_refuse_unknown_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Case 7: what a clerk types ("sáng") excuses the morning; "tối" is refused, names listed.
    punches = _write(tmp_path / "p.jsonl", {"employee": "A", "at": "2026-11-23T12:58:00+07:00"})
    leave = {"employee": "A", "kind": "annual_leave", "from": "2026-11-23", "to": "2026-11-23"}
    excuses = _write(tmp_path / "e.jsonl", {**leave, "sessions": ["sáng"]})
    code, records, _ = replay(
        capsys, *POLICY, "--punches", punches, "--excuses", excuses, "--from", "2026-11-23",
        "--to", "2026-11-23", "--now", "2026-11-24T08:00:00+07:00",
    )  # fmt: skip
    day = next(r for r in records if r["type"] == "day")
    assert code == 0 and day["excused"] == [{"session": "morning", "kind": "annual_leave"}]
    excuses = _write(tmp_path / "e.jsonl", leave, {**leave, "sessions": ["tối"]})
    code, _, err = replay(capsys, *POLICY, "--punches", punches, "--excuses", excuses, *DAY)
    assert code == 2
    assert "e.jsonl:2: 'sessions': Ca không hợp lệ: 'tối'" in err
    assert "morning (sáng), afternoon (chiều)" in err


def test_manual_punches_reviews_and_people_dates_reproduce_the_reviewed_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    punches = _write(
        tmp_path / "p.jsonl",
        {"employee": 1001, "at": "2026-11-23T07:50:00+07:00", "event_id": "R1-0001"},
        {"employee": 1001, "at": "2026-11-23T17:02:00+07:00", "event_id": "R1-0002"},
    )
    manual = _write(
        tmp_path / "m.jsonl",
        {
            "employee": "1001",
            "at": "2026-11-23T11:31:00+07:00",
            "reason": "Quên chấm công ra trưa",
            "approved_by": "truongphong.vp",
        },
        {"employee": "1001", "at": "2026-11-23T12:59:00+07:00", "id": "BS-7"},
    )
    reviews = _write(
        tmp_path / "r.jsonl",
        {"employee": 1001, "date": "23/11/2026", "session": "sáng", "kind": "late",
         "decision": "excused", "reason_kind": "Họp, hội nghị bên ngoài",
         "by": "truongphong.vp"},
        {"employee": 1001, "date": "2026-11-23", "session": "afternoon", "kind": "absent",
         "decision": "confirmed"},
    )  # fmt: skip
    # Dates as agencies write them (dd/mm/yyyy) and the reason by its Vietnamese label.
    people = _write(tmp_path / "people.txt", {"employee": 1001, "to": "23/11/2026"})
    code, records, _ = replay(
        capsys, *POLICY, "--punches", punches, "--manual", manual, "--reviews", reviews,
        "--people", people, *DAY,
    )  # fmt: skip
    assert code == 0
    days = [r for r in records if r["type"] == "day"]
    assert [d["date"] for d in days] == ["2026-11-23"]  # 24/11 is after the person's end date
    assert days[0]["manual_punches"] == ["manual-1", "BS-7"]
    (late,) = [r for r in records if r["type"] == "violation"]
    assert late["kind"] == "late" and late["evidence"] == ["R1-0001"]
    assert late["review"] == {
        "decision": "excused",
        "reason_kind": "outside_meeting",
        "by": "truongphong.vp",
        "note": "",
    }
    (orphan,) = [r for r in records if r["type"] == "review_without_violation"]
    assert orphan["kind"] == "absent"


def test_a_manual_punch_that_says_its_session_and_side_is_honoured_in_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 07:25 and 17:03 from the reader; "Quên chấm công ra (sáng)" at 11:35: the morning's
    # departure, so only the afternoon's missing check-in is left (read in order, the
    # default cut would give 11:35 to the afternoon and leave the morning's check-out).
    punches = _write(
        tmp_path / "p.jsonl",
        {"employee": "A", "at": "2026-11-23T07:25:00+07:00"},
        {"employee": "A", "at": "2026-11-23T17:03:00+07:00"},
    )
    forgot = {"employee": "A", "at": "2026-11-23T11:35:00+07:00", "id": "BS-1"}
    one_day = ("--from", "2026-11-23", "--to", "2026-11-23", "--now", "2026-11-24T08:00:00+07:00")

    def kinds_with(line: dict[str, str]) -> list[tuple[str, str]]:
        manual = _write(tmp_path / "m.jsonl", line)
        code, records, _ = replay(
            capsys, *POLICY, "--punches", punches, "--manual", manual, *one_day
        )
        assert code == 0
        found = [r for r in records if r["type"] == "violation"]
        return sorted((str(r["session"]), str(r["kind"])) for r in found)

    assert kinds_with(forgot) == [("morning", "missing_out")]
    said = {**forgot, "direction": "out", "session": "sáng"}
    assert kinds_with(said) == [("afternoon", "missing_in")]
    manual = _write(tmp_path / "m.jsonl", {**said, "direction": "unknown"})
    code, _, err = replay(capsys, *POLICY, "--punches", punches, "--manual", manual, *one_day)
    assert code == 2 and "m.jsonl:1: 'direction'" in err and "in, out" in err
    # What the request form and a clerk write: "ra" / "vào" (with or without diacritics).
    assert kinds_with({**said, "direction": "ra"}) == [("afternoon", "missing_in")]
    assert kinds_with({**said, "direction": "Vao", "session": "chiều"}) == [
        ("morning", "missing_out")
    ]


def test_the_policy_file_is_read_by_its_content_and_errors_name_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    punches = _write(tmp_path / "p.jsonl", {"employee": "A", "at": "2026-11-23T07:20:00+07:00"})
    as_json = tmp_path / "policy.conf"
    as_json.write_text(json.dumps({"policy": {"late_grace_minutes": 20}}))
    code, _, _ = replay(capsys, "--policy", str(as_json), "--punches", punches, *DAY)
    assert code == 0
    as_toml = tmp_path / "policy.json"
    as_toml.write_text('timezone = "Asia/Ho_Chi_Minh"\n\n[policy]\npunch_mode = "per_week"\n')
    code, _, err = replay(capsys, "--policy", str(as_toml), "--punches", punches, *DAY)
    assert code == 2
    assert f"{as_toml}:4: 'policy.punch_mode': giá trị \"per_week\" không hợp lệ" in err
    assert "chấp nhận một trong: per_session, per_day" in err
    assert " or " not in err


def test_a_bad_excuse_kind_is_named_with_the_accepted_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    punches = _write(tmp_path / "p.jsonl", {"employee": "A", "at": "2026-11-23T07:20:00+07:00"})
    excuses = _write(
        tmp_path / "e.jsonl",
        {"employee": "A", "kind": "phép", "from": "2026-11-23", "to": "2026-11-23"},
    )
    code, _, err = replay(capsys, *POLICY, "--punches", punches, "--excuses", excuses, *DAY)
    assert (
        code == 2
        and "e.jsonl:1: 'kind': giá trị \"phép\" không hợp lệ; chấp nhận một trong:" in err
    )
    assert "chấp nhận một trong: annual_leave, sick_leave" in err and "business_trip" in err


def test_schedule_errors_in_a_toml_policy_are_in_vietnamese_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    punches = _write(tmp_path / "p.jsonl", {"employee": "A", "at": "2026-11-23T07:20:00+07:00"})
    seasons = tmp_path / "seasons.toml"
    seasons.write_text(
        "[schedule]\n[[schedule.seasons]]\n"
        'from = "02-30"\n'
        'sessions = [ { name = "morning", start = 07:00:00, end = 11:30:00 } ]\n'
    )
    code, _, err = replay(capsys, "--policy", str(seasons), "--punches", punches, *DAY)
    assert code == 2 and f"{seasons}:3: 'schedule.seasons[0].from': ngày 02-30 không có thật" in err
    both = tmp_path / "both.toml"
    both.write_text(
        "[schedule]\n"
        'sessions = [ { name = "morning", start = 07:00:00, end = 11:30:00 } ]\n'
        "[schedule.rota]\nanchor = 2026-11-02\ndays = [ [] ]\n"
    )
    code, _, err = replay(capsys, "--policy", str(both), "--punches", punches, *DAY)
    assert code == 2 and f"{both}:1: 'schedule': cần đúng một trong: sessions, seasons, rota" in err
    assert "(đang có: sessions, rota)" in err


def _refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str) -> str:
    punches = _write(tmp_path / "p.jsonl", {"employee": "A", "at": "2026-11-23T07:20:00+07:00"})
    policy = tmp_path / "rules.toml"
    policy.write_text(toml)
    code, out, err = replay(capsys, "--policy", str(policy), "--punches", punches, *DAY)
    assert code == 2 and out == []
    assert err.startswith(f"Lỗi: {policy}:")
    assert " or " not in err and "Input should" not in err
    return err.removeprefix(f"Lỗi: {policy}:").strip()


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[policy]\nbreak_cut = "noon"\n',
            "2: 'policy.break_cut': giá trị \"noon\" không hợp lệ; "
            "chấp nhận một trong: earlier_end, middle, later_start",
        ),
        (
            '[policy]\nmissing_punch = "warn"\n',
            "2: 'policy.missing_punch': giá trị \"warn\" không hợp lệ; "
            "chấp nhận một trong: flag, ignore",
        ),
        (
            '[schedule]\nweekdays = ["mon", "thứ tám"]\n'
            'sessions = [{name = "a", start = 07:30:00, end = 11:30:00}]\n',
            "2: 'schedule.weekdays[1]': giá trị \"thứ tám\" không hợp lệ; "
            "chấp nhận một trong: mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            "[policy]\nretap_minutes = 500\n",
            "2: 'policy.retap_minutes': 500 lớn hơn 120; chấp nhận số nguyên từ 0 đến 120",
        ),
        (
            "[policy]\nlate_grace = 5\n",
            "2: khóa 'policy.late_grace' không được dùng ở đây; [policy] chỉ nhận các khóa: "
            "late_grace_minutes, early_grace_minutes",
        ),
        (
            '[schedule.weekday_sessions]\nsaturday = [{name = "a", start = 07:30:00, '
            "end = 11:30:00}]\n",
            '2: khóa "saturday" trong [schedule.weekday_sessions] không hợp lệ; '
            "[schedule.weekday_sessions] chỉ nhận các khóa: mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            '[schedule]\nsessions = [{name = "a", start = "7h30", end = 11:30:00}]\n',
            "2: 'schedule.sessions[0].start': không đọc được giờ \"7h30\"; "
            "chấp nhận giờ dạng hh:mm:ss, ví dụ 07:30:00",
        ),
        (
            "[schedule]\nsessions = []\n",
            "2: 'schedule.sessions': cần ít nhất 1 phần tử",
        ),
        (
            'timezone = "Mars/Base"\n',
            "1: 'timezone': không có múi giờ 'Mars/Base'; chấp nhận tên múi giờ IANA",
        ),
        (
            "[schedule]\nobserves_holidays = false\n[schedule.rota]\nanchor = 2026-01-01\n"
            "observes_holidays = true\ndays = [[]]\n",
            "1: 'schedule': observes_holidays có hai giá trị khác nhau ở [schedule] và "
            "[schedule.rota]",
        ),
    ],
)
def test_a_refused_rules_file_names_the_key_s_place_and_the_accepted_values_in_vietnamese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, expected: str
) -> None:
    assert _refusal(tmp_path, capsys, toml).startswith(expected)


def test_weekdays_accept_the_vietnamese_names_the_rules_page_prints() -> None:
    """The page shows "Thứ Hai, Thứ Ba, …": a clerk copying them into a file is understood."""
    sessions = [{"name": "a", "start": "07:30", "end": "11:30"}]
    written = ["Thứ Hai", "thứ 3", "THU TU", "T5", "Thứ Sáu", "thứ bảy", "Chủ nhật", "CN"]
    doc = RulesDoc.model_validate({"schedule": {"weekdays": written, "sessions": sessions}})
    assert doc.schedule.weekdays == ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "sun"]


def test_observes_holidays_may_be_written_under_the_rota() -> None:
    rota = {"anchor": "2026-01-01", "days": [[{"name": "day", "start": "07:30", "end": "17:00"}]]}
    under_rota = RulesDoc.model_validate(
        {"schedule": {"rota": {**rota, "observes_holidays": True}}}
    )
    assert under_rota.schedule.value().observes_holidays
    assert (
        not RulesDoc.model_validate({"schedule": {"rota": rota}}).schedule.value().observes_holidays
    )
    both = {"observes_holidays": True, "rota": {**rota, "observes_holidays": True}}
    assert RulesDoc.model_validate({"schedule": both}).schedule.value().observes_holidays


def test_excuses_as_an_agency_writes_them_labels_and_local_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The kind and status by their Vietnamese labels (as `kycuong excuses add` takes them)
    # and dates as dd/mm/yyyy, like every other input of the project.
    punches = _write(tmp_path / "p.jsonl", {"employee": "A", "at": "2026-11-23T07:20:00+07:00"})
    excuses = _write(
        tmp_path / "e.jsonl",
        {"employee": "A", "kind": "Nghỉ phép năm", "from": "23/11/2026", "to": "23/11/2026",
         "sessions": ["Buổi chiều"], "status": "Đã duyệt"},
    )  # fmt: skip
    code, records, err = replay(
        capsys, *POLICY, "--punches", punches, "--excuses", excuses, "--from", "2026-11-23",
        "--to", "2026-11-23", "--now", "2026-11-24T08:00:00+07:00",
    )  # fmt: skip
    day = next(r for r in records if r["type"] == "day")
    assert code == 0, err
    assert day["excused"] == [{"session": "afternoon", "kind": "annual_leave"}]


def test_an_empty_session_list_is_refused_not_read_as_the_whole_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    punches = _write(tmp_path / "p.jsonl", {"employee": "A", "at": "2026-11-23T07:20:00+07:00"})
    leave = {"employee": "A", "kind": "sick_leave", "from": "2026-11-24", "to": "2026-11-23"}
    excuses = _write(tmp_path / "e.jsonl", {**leave, "to": "2026-11-24", "sessions": []})
    code, _, err = replay(capsys, *POLICY, "--punches", punches, "--excuses", excuses, *DAY)
    assert code == 2 and "e.jsonl:1: 'sessions': danh sách trống" in err
    assert "morning, afternoon" in err
    excuses = _write(tmp_path / "e.jsonl", leave)
    code, _, err = replay(capsys, *POLICY, "--punches", punches, "--excuses", excuses, *DAY)
    assert code == 2 and "'to' (23/11/2026) trước 'from' (24/11/2026)" in err


@pytest.mark.parametrize(
    "text",
    [
        '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",  # RecursionError in json
        "a = " + "[" * 50_000 + "]" * 50_000,  # and in tomllib
        "a = " + "{b = " * 20_000 + "1" + "}" * 20_000,
        '{"late_grace_minutes": 1' + "0" * 5000 + "}",  # a number of 5,000 digits
    ],
)
def test_a_hostile_rules_file_is_refused_in_vietnamese_not_crashed_on(text: str) -> None:
    with pytest.raises(ReplayError, match="không đọc được"):
        parse_rules(text, "quy-dinh.json")


@pytest.mark.parametrize("option", ["--punches", "--excuses", "--people"])
def test_a_file_saved_in_a_windows_encoding_is_named_with_its_line_not_crashed_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    # Excel on Windows saves Vietnamese as Windows-1258: "Nguyễn" is not UTF-8. It used to
    # stop with "Lỗi không mong muốn (UnicodeDecodeError: ...)", in English, with no line.
    good = tmp_path / "good.jsonl"
    good.write_text('{"employee": "A", "at": "2026-11-23T07:30:00+07:00"}\n')
    bad = tmp_path / "windows.jsonl"
    bad.write_bytes(
        b"# B\xe1\xba\xa3ng t\xe1\xbb\xab Excel\n"  # UTF-8 here, Windows-1258 below
        b'{"employee": "Nguy\xd4\xde\xf2n"}\n'
    )
    files = {"--punches": str(good), option: str(bad)}
    args = [a for pair in files.items() for a in pair]
    code, records, err = replay(
        capsys,
        "--policy",
        str(EXAMPLES / "policy.toml"),
        *args,
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-23",
    )
    assert code == 2 and records == []
    assert f"{bad}:2: " in err and "UTF-8" in err
    assert "UnicodeDecodeError" not in err and "không mong muốn" not in err
