"""Monthly kỷ luật scores per person (ý thức kỷ luật, NĐ 335/2025/NĐ-CP): the rule's
suggestion from the reviewed month, the unit head's decision in force, and the files Nội vụ
imports into a rating workflow (JSON and XLSX). The software suggests; people decide."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kycuong.errors import Invalid, NotFound
from kycuong.labels import vn_number
from rules.discipline_score import FLAGS, MonthRecord, ScoreRule, Suggestion, suggest_score
from services.documents.header import MOTTO, NATIONAL_TITLE, SUGGESTS, DocumentHeader
from services.documents.period import ReportPeriod, report_period
from services.documents.sheets import as_text_cells, row_points, text_lines
from store.models import Employee, Unit
from store.scores import decisions_in_force, record_decision
from store.summaries import Line, Thresholds, person_lines
from store.users import full_names

CRITERION = "y_thuc_ky_luat"


class ScoreError(Invalid):
    """A decision that cannot be recorded (400): ``code`` and a Vietnamese ``message``."""


@dataclass(frozen=True, slots=True)
class PersonScore:
    employee_id: int
    code: str
    name: str
    unit_id: int
    unit_code: str
    unit_name: str
    record: MonthRecord
    suggestion: Suggestion
    decision: str | None  # None: not yet decided; "confirmed", "adjusted"
    score: float  # the score in force: the head's when decided, the suggestion otherwise
    flag: str | None
    note: str
    decided_by: str  # the username
    decided_at: datetime | None
    suggested_at_decision: float | None  # the suggestion the head saw (it may have moved since)
    decided_by_name: str = ""  # the full name people know (the username when it has none)


def _record(line: Line) -> MonthRecord:
    return MonthRecord(
        working_days=line.working_days,
        late_count=line.late_count,
        late_minutes=line.late_minutes,
        early_count=line.early_count,
        early_minutes=line.early_minutes,
        absent_days=line.absent_days,
        missing_punches=line.missing_punches,
    )


def month_scores(
    db: Any,
    unit_ids: frozenset[int] | None,
    year: int,
    month: int,
    rule: ScoreRule,
    today: date,
) -> tuple[ReportPeriod, list[PersonScore]]:
    """Everyone in scope with a record in the month: suggestion and decision in force."""
    period = report_period("month", year, month, None, today)
    lines = person_lines(db, period.first, period.last, unit_ids, Thresholds())
    decisions = decisions_in_force(db, (line.key for line in lines), period.first)
    codes = dict(db.query(Unit.id, Unit.code).filter(Unit.id.in_({line.unit_id for line in lines})))
    names = full_names(db, {d.decided_by for d in decisions.values() if d.decided_by})
    scores = []
    for line in lines:
        record = _record(line)
        suggestion = suggest_score(record, rule)
        d = decisions.get(line.key)
        scores.append(
            PersonScore(
                employee_id=line.key,
                code=line.code,
                name=line.name,
                unit_id=line.unit_id,
                unit_code=codes.get(line.unit_id, ""),
                unit_name=line.unit_name,
                record=record,
                suggestion=suggestion,
                decision=d.decision if d else None,
                score=d.score if d else suggestion.score,
                flag=d.flag if d else suggestion.flag,
                note=d.note if d else "",
                decided_by=d.decided_by if d else "",
                decided_at=d.decided_at if d else None,
                suggested_at_decision=d.suggested_score if d else None,
                decided_by_name=names.get(d.decided_by, d.decided_by) if d else "",
            )
        )
    return period, scores


def decide(
    db: Any,
    unit_ids: frozenset[int] | None,
    employee_id: int,
    year: int,
    month: int,
    rule: ScoreRule,
    *,
    score: float | None,
    flag: str | None,
    note: str,
    by: str,
    now: datetime,
    today: date,
) -> PersonScore:
    """Confirm the suggestion (``score`` None) or adjust it (a score and a note)."""
    employee = db.get(Employee, employee_id)
    if employee is None or (unit_ids is not None and employee.unit_id not in unit_ids):
        raise NotFound("Cán bộ")
    period, scores = month_scores(db, frozenset({employee.unit_id}), year, month, rule, today)
    current = next((s for s in scores if s.employee_id == employee_id), None)
    if current is None:
        raise ScoreError("no_record", "Cán bộ chưa có dữ liệu chấm công trong tháng này")
    if flag is not None and flag not in FLAGS:
        raise ScoreError("bad_flag", "Đề xuất thi đua không hợp lệ")
    if score is None and flag is not None and flag != current.suggestion.flag:
        score = current.suggestion.score  # a flag given alone adjusts the flag, not ignored
    adjusted = score is not None and (
        score != current.suggestion.score or flag != current.suggestion.flag
    )
    if score is not None and not 0 <= score <= rule.max_points:
        raise ScoreError("bad_score", f"Điểm phải từ 0 đến {vn_number(rule.max_points)}")
    if adjusted and not note.strip():
        raise ScoreError("note_required", "Điều chỉnh điểm cần ghi rõ lý do")
    record_decision(
        db,
        employee_id=employee_id,
        month=period.first,
        decision="adjusted" if adjusted else "confirmed",
        suggested_score=current.suggestion.score,
        score=score if score is not None else current.suggestion.score,
        flag=flag if score is not None else current.suggestion.flag,
        note=note.strip(),
        by=by,
        now=now,
    )
    _, after = month_scores(db, frozenset({employee.unit_id}), year, month, rule, today)
    return next(s for s in after if s.employee_id == employee_id)


STATUS = {None: "Đề xuất (chưa xác nhận)", "confirmed": "Đã xác nhận", "adjusted": "Đã điều chỉnh"}


def to_json(period: ReportPeriod, scores: list[PersonScore], rule: ScoreRule) -> dict[str, Any]:
    """The shape a rating workflow imports: one item per person, codes and Vietnamese labels."""
    return {
        "criterion": CRITERION,
        "criterion_label": "Ý thức kỷ luật (tiêu chí chung, Nghị định 335/2025/NĐ-CP)",
        "period": {
            "month": f"{period.first:%Y-%m}",
            "first_day": period.first.isoformat(),
            "last_day": period.last.isoformat(),
            "label": period.label,
        },
        "max_points": rule.max_points,
        "rule_source": rule.source,
        "notice": SUGGESTS,
        "items": [
            {
                "employee_code": s.code,
                "employee_name": s.name,
                "unit_code": s.unit_code,
                "unit_name": s.unit_name,
                "suggested_score": s.suggestion.score,
                "score": s.score,
                "status": s.decision or "suggested",
                "status_label": STATUS[s.decision],
                "flag": s.flag,
                "flag_label": FLAGS.get(s.flag or "", None),
                "reasons": [
                    {"code": d.code, "count": d.count, "points": -d.points, "text": d.text}
                    for d in s.suggestion.deductions
                ],
                "note": s.note,
                "decided_by": s.decided_by or None,
                "decided_by_name": s.decided_by_name or None,
                "decided_at": s.decided_at.isoformat() if s.decided_at else None,
                "suggestion_changed_since_decision": (
                    s.suggested_at_decision is not None
                    and s.suggested_at_decision != s.suggestion.score
                ),
            }
            for s in scores
        ],
    }


SCORE_HEADERS = (
    "STT",
    "Mã cán bộ",
    "Họ và tên",
    "Mã đơn vị",
    "Đơn vị",
    "Điểm đề xuất",
    "Điểm",
    "Trạng thái",
    "Đề xuất thi đua",
    "Lý do trừ điểm",
    "Ghi chú của thủ trưởng",
    "Người xác nhận",
    "Thời điểm xác nhận",
)


def to_xlsx(
    header: DocumentHeader, period: ReportPeriod, scores: list[PersonScore], rule: ScoreRule
) -> bytes:
    """One sheet: the header blocks, a row per person, the notice that people decide."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    zone = header.generated.tzinfo if header.generated else None  # the agency's local time
    book = Workbook()
    ws: Any = book.worksheets[0]
    ws.title = "Điểm kỷ luật"
    bold = Font(bold=True)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)  # the table printed ruled
    widths = (5, 12, 24, 10, 24, 10, 8, 16, 36, 44, 30, 16, 16)
    supervising, issuing = header.issuer_lines()  # NĐ 30/2020: never the same name twice
    ws.append([supervising, "", "", "", "", "", NATIONAL_TITLE])
    ws.append([issuing, "", "", "", "", "", MOTTO])
    ws.append([])
    ws.append(["ĐỀ XUẤT ĐIỂM Ý THỨC KỶ LUẬT HẰNG THÁNG"])
    unit = f"Đơn vị: {header.unit} · " if header.unit else ""  # the unit under the title
    ws.append([f"{unit}Kỳ: {period.label}; điểm tối đa {vn_number(rule.max_points)}"])
    ws.append([f"Căn cứ: {rule.source}"])
    ws.append([SUGGESTS])
    ws.append([])
    ws.append(list(SCORE_HEADERS))
    for c in ws[9]:
        c.font, c.border = bold, box
        c.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
    # a spreadsheet never grows a row to its wrapped text when printed: set each row's height
    ws.row_dimensions[9].height = row_points(
        max(text_lines(h, w, bold=True) for h, w in zip(SCORE_HEADERS, widths, strict=True))
    )
    for i, s in enumerate(scores, start=1):
        ws.append(
            [
                i,
                s.code,
                s.name,
                s.unit_code,
                s.unit_name,
                s.suggestion.score,
                s.score,
                STATUS[s.decision],
                FLAGS.get(s.flag or "", ""),
                "\n".join(f"{d.text}: −{vn_number(d.points)}" for d in s.suggestion.deductions),
                s.note,
                s.decided_by_name,
                (
                    f"{s.decided_at.astimezone(zone):%d/%m/%Y %H:%M}"
                    if s.decided_at is not None
                    else ""
                ),
            ]
        )
        lines = 1
        for c, width in zip(ws[ws.max_row], widths, strict=True):
            c.alignment, c.border = Alignment(wrap_text=True, vertical="top"), box
            if isinstance(c.value, str):
                lines = max(lines, text_lines(c.value, width))
        ws.row_dimensions[ws.max_row].height = row_points(lines)
    for r in (1, 2, 4):
        ws.cell(r, 7).font = bold
    for r in (2, 4) if issuing else (1, 4):  # the issuing body bold, its supervisor not
        ws.cell(r, 1).font = bold
    for letter, width in zip("ABCDEFGHIJKLM", widths, strict=True):
        ws.column_dimensions[letter].width = width
    ws.page_setup.paperSize, ws.page_setup.orientation = 9, "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "9:9"
    ws.oddFooter.center.text = "Trang &P / &N"
    as_text_cells(ws)  # names, units and notes are data, never formulas
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
