"""`kycuong replay`: the documented file formats in, JSON lines out; bad files named clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kycuong.cli import main
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
    assert ("0001000123", "morning", "missing_out") in violations  # a reader's export, by card


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
    assert code == 2 and "--to is before --from" in err
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
    assert code == 2 and "late_grace_minutes" in err
