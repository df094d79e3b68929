"""Unit heads' decisions on suggested monthly kỷ luật scores: appended, never rewritten."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from store.models import ScoreDecision


def record_decision(
    db: DbSession,
    *,
    employee_id: int,
    month: date,
    decision: str,
    suggested_score: float,
    score: float,
    flag: str | None,
    note: str,
    by: str,
    now: datetime,
) -> ScoreDecision:
    """Append a decision; the newest one of (employee, month) is in force."""
    row = ScoreDecision(
        employee_id=employee_id,
        month=month.replace(day=1),
        decision=decision,
        suggested_score=suggested_score,
        score=score,
        flag=flag,
        note=note,
        decided_by=by,
        decided_at=now,
    )
    db.add(row)
    db.flush()
    return row


def decisions_in_force(
    db: DbSession, employee_ids: Iterable[int], month: date
) -> dict[int, ScoreDecision]:
    """The newest decision of each person for the month."""
    ids = list(employee_ids)
    if not ids:
        return {}
    newest = (
        select(func.max(ScoreDecision.id))
        .where(ScoreDecision.employee_id.in_(ids), ScoreDecision.month == month.replace(day=1))
        .group_by(ScoreDecision.employee_id)
    )
    rows = db.scalars(select(ScoreDecision).where(ScoreDecision.id.in_(newest)))
    return {r.employee_id: r for r in rows}
