"""Biểu mẫu: the bảng chấm công C01a-HD of a unit's month (XLSX, PDF) and the monthly kỷ luật
scores (điểm ý thức kỷ luật), with the unit head's confirmation or adjustment and the XLSX a
rating workflow imports. Each route: parse, one call to ``services.documents.downloads``, render."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Invalid, KcError, NotFound
from kycuong.inputs import free_text, quoted
from rules.discipline_score import FLAGS
from services import days as day_service
from services.documents import downloads
from services.documents.files import DocumentFile
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)
common.nav("/bieu-mau", "Biểu mẫu", "summaries:read", 45)

FORMATS = {"xlsx": "Excel (XLSX)", "pdf": "PDF"}
# What the unit head does with a suggested score: confirm it, or adjust it with a note.
SCORE_ACTIONS = {"confirm": "Xác nhận", "adjust": "Điều chỉnh"}


def _asked(request: Request, visitor: web_session.Visitor) -> downloads.Asked:
    now = web_session.now_utc().astimezone(common.tz(request))
    return downloads.Asked(visitor.scope, common.context(request).settings, now)


def _month_fields(request: Request, thang: str, nam: str) -> tuple[int, int, dict[str, str]]:
    """The month asked for, by default the previous one (the one offices file), and a message
    per field that cannot be read (shown beside it; the default month meanwhile)."""
    today = web_session.now_utc().astimezone(common.tz(request)).date()
    default_year, default_month = (
        (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    )
    values, errors = common.numbers(
        common.NumberField("thang", "Tháng", thang, 1, 12, default_month),
        common.NumberField("nam", "Năm", nam, 2000, 2100, default_year),
    )
    return values["nam"], values["thang"], errors


def _month(request: Request, thang: str, nam: str) -> tuple[int, int]:
    """The month of a link or a hidden field (nothing to mark): a bad value refused."""
    year, month, errors = _month_fields(request, thang, nam)
    if errors:
        raise Invalid("invalid_period", "; ".join(errors.values()))
    return year, month


def _file(doc: DocumentFile) -> Response:
    return Response(
        doc.content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/bieu-mau", response_class=HTMLResponse)
def documents_page(request: Request, thang: str = "", nam: str = "", don_vi: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            visitor.scope.require("summaries:read")
        except KcError as exc:
            return common.failed(request, visitor, exc)
        year, month, field_errors = _month_fields(request, thang, nam)
        try:
            unit_id = common.unit_id(don_vi)
        except KcError as exc:
            return common.failed(request, visitor, exc)
        return common.page(
            request,
            "documents.html",
            400 if field_errors else 200,
            visitor=visitor,
            error=None,
            field_errors=field_errors,
            typed={"thang": thang, "nam": nam},
            year=year,
            month=month,
            unit_id=unit_id,
            units=day_service.units_for(db, visitor.scope),
        )


@router.get("/bieu-mau/bang-cham-cong")
def timesheet_download(
    request: Request, thang: str = "", nam: str = "", don_vi: str = "", dinh_dang: str = "xlsx"
) -> Response:
    if _month_fields(request, thang, nam)[2]:  # typed in the page's form: marked there
        return documents_page(request, thang, nam, don_vi)

    def timesheets(
        db: DbSession, asked: downloads.Asked, year: int, month: int, unit_id: int | None
    ) -> DocumentFile:
        file_format = common.pick(FORMATS, dinh_dang, "Định dạng tệp", "xlsx")
        return downloads.timesheets(
            db,
            asked,
            year=year,
            month=month,
            unit_id=unit_id,
            file_format=cast(Literal["xlsx", "pdf"], file_format),
        )

    return _download(request, thang, nam, don_vi, timesheets)


def _download(
    request: Request,
    thang: str,
    nam: str,
    don_vi: str,
    make: Callable[[DbSession, downloads.Asked, int, int, int | None], DocumentFile],
) -> Response:
    """A file of a month asked for by a link: the visitor, the month and unit, one call."""
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            year, month = _month(request, thang, nam)
            doc = make(db, _asked(request, visitor), year, month, common.unit_id(don_vi))
        except KcError as exc:
            return common.failed(request, visitor, exc)
    return _file(doc)


@router.get("/diem-ky-luat", response_class=HTMLResponse)
def scores_page(
    request: Request, thang: str = "", nam: str = "", don_vi: str = "", luu: str = ""
) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        return _scores(request, db, visitor, thang, nam, don_vi, saved=common.row_id(luu))


def _scores(
    request: Request,
    db: DbSession,
    visitor: web_session.Visitor,
    thang: str,
    nam: str,
    don_vi: str,
    *,
    status: int = 200,
    saved: int | None = None,
    error: str | None = None,
    refused: ScoreRefusal | None = None,
) -> Response:
    """The scores of a unit's month, with the result of a decision or why it was refused
    (``refused``: shown beside the field of that person's adjustment, what was typed kept)."""
    year, month, field_errors = _month_fields(request, thang, nam)
    try:
        unit_id = common.unit_id(don_vi)
        period, items, rule = downloads.scores(
            db, _asked(request, visitor), year=year, month=month, unit_id=unit_id
        )
    except KcError as exc:
        return common.failed(request, visitor, exc)
    return common.page(
        request,
        "scores.html",
        400 if field_errors else status,
        visitor=visitor,
        field_errors=field_errors,
        typed={"thang": thang, "nam": nam},
        refused=refused,
        period=period,
        items=items,
        rule=rule,
        year=year,
        month=month,
        unit_id=unit_id,
        units=day_service.units_for(db, visitor.scope),
        flags=FLAGS,
        may_decide=visitor.scope.may("violations:review"),
        saved=saved,
        error=error,
    )


@router.get("/diem-ky-luat/tai-ve")
def scores_download(request: Request, thang: str = "", nam: str = "", don_vi: str = "") -> Response:
    return _download(
        request,
        thang,
        nam,
        don_vi,
        lambda db, asked, year, month, unit_id: downloads.scores_file(
            db, asked, year=year, month=month, unit_id=unit_id
        ),
    )


# The field of a person's adjustment a refusal is about, by its code (services.discipline_scores).
SCORE_FIELDS = {
    "bad_score": "score",
    "bad_flag": "flag",
    "note_required": "note",
    "hidden_characters": "note",
}


@dataclass(frozen=True, slots=True)
class ScoreRefusal:
    """An adjustment refused: whose, which field, why, and what was typed (kept in the form)."""

    employee_id: int
    field: str
    message: str
    typed: dict[str, str]


def _score(text: str) -> float | None:
    """A score as typed: "27", "27,5" or "27.5"; empty confirms the suggestion."""
    raw = text.strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise Invalid("bad_score", f"Điểm “{quoted(text.strip())}” không phải là số") from exc


@router.post("/diem-ky-luat/{employee_id}")
def score_decision(
    request: Request,
    employee_id: str,
    thang: Annotated[str, Form(max_length=4)] = "",
    nam: Annotated[str, Form(max_length=6)] = "",
    don_vi: Annotated[str, Form(max_length=12)] = "",
    action: Annotated[str, Form(max_length=16)] = "confirm",
    score: Annotated[str, Form(max_length=16)] = "",
    flag: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        person = common.row_id(employee_id)
        try:
            if person is None:
                raise NotFound("Cán bộ")
            year, month = _month(request, thang, nam)
            adjust = common.pick(SCORE_ACTIONS, action, "Thao tác", "confirm") == "adjust"
            downloads.decide_score(
                db,
                _asked(request, visitor),
                person,
                year=year,
                month=month,
                score=_score(score) if adjust else None,
                flag=(flag or None) if adjust else None,
                note=free_text(note),
            )
        except Invalid as exc:
            if exc.code in SCORE_FIELDS and person is not None:  # beside that person's field
                typed = {"score": score, "flag": flag, "note": note}
                refusal = ScoreRefusal(person, SCORE_FIELDS[exc.code], exc.message, typed)
                return _scores_with_error(request, visitor, thang, nam, don_vi, None, refusal)
            return _scores_with_error(request, visitor, thang, nam, don_vi, exc.message)
        except KcError as exc:
            return common.failed(request, visitor, exc)
    unit = f"&don_vi={common.row_id(don_vi)}" if common.row_id(don_vi) else ""
    return RedirectResponse(
        f"/diem-ky-luat?thang={month}&nam={year}{unit}&luu={person}#p{person}", status_code=303
    )


def _scores_with_error(
    request: Request,
    visitor: web_session.Visitor,
    thang: str,
    nam: str,
    don_vi: str,
    message: str | None,
    refused: ScoreRefusal | None = None,
) -> Response:
    with common.db(request) as db:
        return _scores(
            request,
            db,
            visitor,
            thang,
            nam,
            don_vi,
            status=400,
            error=message,
            refused=refused,
        )
