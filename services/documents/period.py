"""Report periods (tháng, quý, năm) and how much of them is over.

A report pulled before its period ends counts only the days up to the last closed day (the
day before today, local time) and says so: "Năm 2026, tính đến 30/11/2026"."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from kycuong.errors import Invalid

__all__ = [
    "Invalid",
    "PeriodKind",
    "ReportPeriod",
    "report_period",
    "tracking_note",
    "with_tracking",
]

PeriodKind = Literal["month", "quarter", "year"]


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    kind: PeriodKind
    first: date
    last: date  # the last day counted
    end: date  # the period's own last day
    label: str

    @property
    def complete(self) -> bool:
        return self.last == self.end


def _bounds(
    kind: PeriodKind, year: int, month: int | None, quarter: int | None
) -> tuple[date, date]:
    if kind == "month":
        if month is None:
            raise Invalid("month_required", "Cần chọn tháng (1–12)")
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    if kind == "quarter":
        if quarter is None:
            raise Invalid("quarter_required", "Cần chọn quý (1–4)")
        first_month = 3 * (quarter - 1) + 1
        last_month = first_month + 2
        return date(year, first_month, 1), date(
            year, last_month, calendar.monthrange(year, last_month)[1]
        )
    return date(year, 1, 1), date(year, 12, 31)


def _name(kind: PeriodKind, first: date) -> str:
    if kind == "month":
        return f"Tháng {first.month:02d}/{first.year}"
    if kind == "quarter":
        return f"Quý {(first.month - 1) // 3 + 1}/{first.year}"
    return f"Năm {first.year}"


def report_period(
    kind: PeriodKind, year: int, month: int | None, quarter: int | None, today: date
) -> ReportPeriod:
    """The period, cut at the last closed day (``today`` − 1) when it is not over."""
    first, end = _bounds(kind, year, month, quarter)
    closed = today - timedelta(days=1)
    if closed < first:
        raise Invalid(
            "period_not_started",
            f"Kỳ báo cáo {_name(kind, first)} chưa có ngày nào kết thúc (hôm nay {today:%d/%m/%Y})",
        )
    last = min(end, closed)
    name = _name(kind, first)
    if last < end:
        name = f"{name}, tính đến {last:%d/%m/%Y}"
    return ReportPeriod(kind, first, last, end, f"{name} (từ {first:%d/%m/%Y} đến {last:%d/%m/%Y})")


def tracking_note(first: date, starts: Iterable[date]) -> str:
    """ "Theo dõi từ 01/12/2026" when the period starting ``first`` begins before the tracking
    start (ngày bắt đầu theo dõi) of the agencies in ``starts``; the latest of several, the
    others named briefly; "" when every agency was tracked from ``first`` or earlier."""
    later = sorted({d for d in starts if d > first}, reverse=True)
    if not later:
        return ""
    note = f"Theo dõi từ {later[0]:%d/%m/%Y}"
    if len(later) == 2:
        return f"{note} (cơ quan khác từ {later[1]:%d/%m/%Y})"
    if len(later) > 2:
        return f"{note} (muộn nhất; {len(later) - 1} cơ quan khác từ {later[-1]:%d/%m/%Y})"
    return note


def with_tracking(label: str, note: str) -> str:
    """The period label with the tracking note after it ("" leaves it as is)."""
    return f"{label} · {note}" if note else label
