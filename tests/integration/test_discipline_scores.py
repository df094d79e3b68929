"""Monthly kỷ luật scores on the hand-made month: the suggestion per person worked out by hand,
and a unit head's adjustment kept when new facts recompute the month."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select

from kycuong.errors import NotFound
from rules.discipline_score import ScoreRule
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from services.discipline_scores import PersonScore, ScoreError, decide, month_scores, to_json
from store.db import db_session
from store.excuses import add_excuse
from store.models import Employee
from store.users import create_user
from tests.integration.month import LATE_DAY, NOW, make_month

RULE = ScoreRule()
TODAY = date(2026, 12, 1)


@pytest.fixture(params=["sqlite_engine", "pg_engine"])
def month(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(request.param)
    make_month(engine)
    return engine


def test_the_three_people_get_the_scores_worked_out_by_hand(month: Engine) -> None:
    with db_session(month) as db:
        period, scores = month_scores(db, None, 2026, 11, RULE, TODAY)
    by_code = {s.code: s for s in scores}
    assert period.complete
    # On time: 5. One late arrival (20 min): 5 − 0.5. Two unexcused days: 5 − 2 × 2.
    assert [by_code[c].score for c in ("E0000", "E0001", "E0002")] == [5.0, 4.5, 1.0]
    assert [by_code[c].flag for c in ("E0000", "E0001", "E0002")] == [None, None, "not_good"]
    assert by_code["E0001"].suggestion.deductions[0].text.startswith("Đi muộn 1 lượt (20 phút)")
    assert by_code["E0002"].unit_code == "P1"
    # Sick leave and the business trip are excused: they cost nothing.
    assert by_code["E0001"].record.absent_days == 0


def test_a_heads_adjustment_is_kept_after_a_recompute_changes_the_suggestion(month: Engine) -> None:
    with db_session(month) as db:
        employee_id = db.scalars(select(Employee.id).where(Employee.code == "E0001")).one()
        with pytest.raises(ScoreError) as error:
            decide(
                db,
                None,
                employee_id,
                2026,
                11,
                RULE,
                score=4.0,
                flag=None,
                note=" ",
                by="truongphong",
                now=NOW,
                today=TODAY,
            )
        assert error.value.code == "note_required"
        adjusted = decide(
            db,
            None,
            employee_id,
            2026,
            11,
            RULE,
            score=4.0,
            flag="not_excellent",
            note="Đi muộn không báo trước",
            by="truongphong",
            now=NOW,
            today=TODAY,
        )
    assert (adjusted.decision, adjusted.score, adjusted.flag) == ("adjusted", 4.0, "not_excellent")

    # New fact: the late morning was an approved outside meeting. The runner recomputes the day.
    with db_session(month) as db:
        add_excuse(
            db, "E0001", "outside_meeting", LATE_DAY, LATE_DAY, sessions=["morning"], approved=True
        )
    RecomputeWorker(month, RulesDirectory(max_age_s=0), clock=lambda: NOW).drain()

    with db_session(month) as db:
        period, scores = month_scores(db, None, 2026, 11, RULE, TODAY)
    after = next(s for s in scores if s.code == "E0001")
    assert after.suggestion.score == 5.0  # the lateness is excused now
    assert (after.decision, after.score, after.flag) == ("adjusted", 4.0, "not_excellent")
    assert after.note == "Đi muộn không báo trước" and after.decided_by == "truongphong"
    assert after.decided_by_name == "truongphong"  # no such account: the username as written
    with db_session(month) as db:  # pages and the XLSX name the head as people know them
        create_user(db, "truongphong", "mat-khau-du-dai", "noi_vu", full_name="Chánh Văn phòng")
    with db_session(month) as db:
        named = next(
            s for s in month_scores(db, None, 2026, 11, RULE, TODAY)[1] if s.code == "E0001"
        )
    assert named.decided_by_name == "Chánh Văn phòng" and named.decided_by == "truongphong"
    item = next(i for i in to_json(period, scores, RULE)["items"] if i["employee_code"] == "E0001")
    assert item["suggestion_changed_since_decision"] is True
    assert item["status"] == "adjusted" and item["score"] == 4.0
    json.dumps(to_json(period, scores, RULE), ensure_ascii=False)


def test_a_head_cannot_decide_for_someone_outside_their_units(month: Engine) -> None:
    with db_session(month) as db:
        employee_id = db.scalars(select(Employee.id).where(Employee.code == "E0000")).one()
        with pytest.raises(NotFound) as error:
            decide(
                db,
                frozenset({999}),
                employee_id,
                2026,
                11,
                RULE,
                score=None,
                flag=None,
                note="",
                by="x",
                now=datetime.now(UTC),
                today=TODAY,
            )
    assert error.value.code == "not_found"


def test_a_flag_given_without_a_score_is_an_adjustment_not_a_silent_confirmation(
    sqlite_engine: Engine,
) -> None:
    """POST {"flag": "not_excellent", "note": …} with no score: the head changes the thi đua
    flag and keeps the suggested score; the flag is recorded (and needs its reason), never
    dropped in favour of a confirmation of the suggestion's."""
    make_month(sqlite_engine)
    with db_session(sqlite_engine) as db:
        employee_id = db.scalars(select(Employee.id).where(Employee.code == "E0001")).one()

        def flag_only(note: str) -> object:
            return decide(
                db,
                None,
                employee_id,
                2026,
                11,
                RULE,
                score=None,
                flag="not_excellent",
                note=note,
                by="truongphong",
                now=NOW,
                today=TODAY,
            )

        with pytest.raises(ScoreError) as error:
            flag_only("")
        assert error.value.code == "note_required"
        decided = flag_only("Đi muộn hai lần trong quý")
    assert isinstance(decided, PersonScore)
    assert (decided.decision, decided.score, decided.flag) == ("adjusted", 4.5, "not_excellent")
