"""Nội vụ's monthly report (báo cáo tháng), built when it is sent, not when it is queued.

The 1st's job queues only which month and for whom; the summary, the people past the
thresholds and the XLSX are made at each sending attempt from the data as they stand then
(reviews decided and late backlogs judged after the 1st included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession

from kycuong.labels import vn_number
from services.scope import scope_of
from services.summaries import XLSX, SummaryQuery, summary, summary_file
from store.models import OutboxMessage, User
from store.outbox import Attachment
from store.summaries import Thresholds


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """What the documents need (the settings KC_REPORT_*, the thresholds, the zone)."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    timezone: str = "Asia/Ho_Chi_Minh"
    recipient: str = ""
    issuer_fallback: str = "Sở Nội vụ"
    place: str = ""


class ReportUnavailable(Exception):
    """The account the report was for can no longer receive it."""


def at_send(
    db: DbSession, message: OutboxMessage, now: datetime, options: ReportOptions
) -> tuple[dict[str, Any], list[Attachment]] | None:
    """The values and files a message is built with when sent; None when it has none (every
    message but the monthly report, and a report queued with its file already made)."""
    if message.template != "monthly_summary":
        return None
    context = json.loads(message.context or "{}")
    kind, _, raw = message.recipient.partition(":")
    if "year" not in context or kind != "user" or not raw.isdigit():
        return None
    return monthly(db, int(raw), int(context["year"]), int(context["month"]), now, options)


def monthly(
    db: DbSession, account_id: int, year: int, month: int, now: datetime, options: ReportOptions
) -> tuple[dict[str, Any], list[Attachment]]:
    """The monthly report's values for its template and its XLSX, as of ``now``."""
    account = db.get(User, account_id)
    if account is None or not account.active:
        raise ReportUnavailable("Tài khoản nhận báo cáo không còn hoạt động.")
    scope = scope_of(db, account)
    query = SummaryQuery(period="month", year=year, month=month)
    view = summary(db, scope, query, options.thresholds, now, options.timezone)
    file = summary_file(
        db,
        scope,
        query,
        options.thresholds,
        now,
        options.timezone,
        "xlsx",
        "employee",
        recipient=options.recipient,
        issuer_fallback=options.issuer_fallback,
        place=options.place,
    )
    flagged = [
        {"name": p.name, "unit": p.unit_name, "flags": "; ".join(p.flags)}
        for p in view.people
        if p.flags
    ]
    values = {
        "scope": view.scope,
        "filename": file.filename,
        "working_days": view.total.working_days,
        "late_count": view.total.late_count,
        "early_count": view.total.early_count,
        "absent_days": vn_number(view.total.absent_days),
        "flagged": flagged,
    }
    return values, [Attachment(file.filename, file.media_type or XLSX, file.content)]
