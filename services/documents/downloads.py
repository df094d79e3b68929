"""The documents as a person asks for them (văn bản, biểu mẫu): one call per download, the same
for the JSON API (``api/documents.py``) and the pages (``web/documents.py``).

Each function checks the permission, resolves the period (a period not over counts up to the
last closed day) and the units in scope, and returns a :class:`DocumentFile` or the data.
Errors are :mod:`kycuong.errors` (Vietnamese messages): ``Forbidden``, ``NotFound`` (a unit
outside the scope), ``Invalid`` (a period that has not started, a bad score).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from rules.discipline_score import ScoreRule
from services import discipline_scores
from services.discipline_scores import PersonScore
from services.documents import timesheet
from services.documents.files import (
    XLSX,
    DocumentFile,
    issuer,
    period_label,
    report_file,
    timesheet_file,
)
from services.documents.header import DocumentHeader, addressee
from services.documents.period import PeriodKind, ReportPeriod, report_period
from services.scope import Scope, units_filter

Format = Literal["xlsx", "pdf"]


@dataclass(frozen=True, slots=True)
class Asked:
    """Who asks and when: the scope, the settings, and the local time of the request."""

    scope: Scope
    settings: Any  # kycuong.settings.Settings
    now: datetime  # aware, in the agency's zone

    @property
    def today(self) -> date:
        return self.now.date()


def header(
    db: Any, asked: Asked, unit_id: int | None, label: str, recipient: str = ""
) -> DocumentHeader:
    """The document's header blocks: the issuing agency and unit, the recipient, the period."""
    s = asked.settings
    who = issuer(db, asked.scope.user_id, unit_id, s.report_issuer)
    return DocumentHeader(
        agency=who.agency,
        unit=who.unit,
        parent=who.parent,
        recipient=addressee(recipient or s.report_recipient, who.agency, who.parent),
        period_label=label,
        generated=asked.now,
        place=s.report_place,
    )


def discipline_report(
    db: Any,
    asked: Asked,
    *,
    kind: PeriodKind,
    year: int,
    month: int | None,
    quarter: int | None,
    unit_id: int | None,
    file_format: Format,
    recipient: str = "",
) -> DocumentFile:
    """Báo cáo tình hình chấp hành kỷ luật, kỷ cương hành chính for the units in scope."""
    asked.scope.require("summaries:read")
    period = report_period(kind, year, month, quarter, asked.today)
    units = units_filter(db, asked.scope, unit_id)
    head = header(db, asked, unit_id, period_label(db, units, period), recipient)
    return report_file(db, units, period, asked.settings.thresholds, head, file_format)


def timesheets(
    db: Any, asked: Asked, *, year: int, month: int, unit_id: int | None, file_format: Format
) -> DocumentFile:
    """Bảng chấm công (mẫu C01a-HD), one form per unit in scope, for a month."""
    asked.scope.require("summaries:read")
    period = report_period("month", year, month, None, asked.today)
    units = units_filter(db, asked.scope, unit_id)
    head = header(db, asked, unit_id, period_label(db, units, period))
    symbols = timesheet.Symbols.with_overrides(asked.settings.timesheet_symbols)
    through = None if period.complete else period.last
    return timesheet_file(db, units, year, month, symbols, head, file_format, through)


def scores(
    db: Any, asked: Asked, *, year: int, month: int, unit_id: int | None
) -> tuple[ReportPeriod, list[PersonScore], ScoreRule]:
    """The month's suggested kỷ luật scores and the decisions in force, per person in scope."""
    asked.scope.require("summaries:read")
    units = units_filter(db, asked.scope, unit_id)
    rule = ScoreRule.with_overrides(asked.settings.score_rule)
    period, items = discipline_scores.month_scores(db, units, year, month, rule, asked.today)
    return period, items, rule


def scores_file(
    db: Any, asked: Asked, *, year: int, month: int, unit_id: int | None
) -> DocumentFile:
    """The scores as the XLSX a rating workflow imports."""
    period, items, rule = scores(db, asked, year=year, month=month, unit_id=unit_id)
    head = header(db, asked, unit_id, period.label)
    content = discipline_scores.to_xlsx(head, period, items, rule)
    return DocumentFile(content, XLSX, f"diem-ky-luat-{year}{month:02d}.xlsx")


def decide_score(
    db: Any,
    asked: Asked,
    employee_id: int,
    *,
    year: int,
    month: int,
    score: float | None,
    flag: str | None,
    note: str,
) -> tuple[ReportPeriod, PersonScore, ScoreRule]:
    """The unit head confirms (``score`` None) or adjusts a suggestion, with a note."""
    asked.scope.require("violations:review")
    rule = ScoreRule.with_overrides(asked.settings.score_rule)
    result = discipline_scores.decide(
        db,
        asked.scope.unit_ids,
        employee_id,
        year,
        month,
        rule,
        score=score,
        flag=flag,
        note=note,
        by=asked.scope.username,
        now=asked.now.astimezone(UTC),
        today=asked.today,
    )
    return report_period("month", year, month, None, asked.today), result, rule
