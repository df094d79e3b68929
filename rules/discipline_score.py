"""The monthly kỷ luật score (ý thức kỷ luật) suggested for the NĐ 335/2025/NĐ-CP rating.

Pure: a person's reviewed month in, a suggested score with its reasons and a thi đua flag out.
The points are configuration (``ScoreRule``); docs/documents.md gives the defaults'
source; ``KC_SCORE_RULE`` holds an agency's own figures. The software suggests; the unit head
confirms or adjusts; people decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from kycuong.labels import vn_number


@dataclass(frozen=True, slots=True)
class MonthRecord:
    """A person's month after review: excused and dismissed items are already left out."""

    working_days: int
    late_count: int = 0
    late_minutes: int = 0
    early_count: int = 0
    early_minutes: int = 0
    absent_days: float = 0.0
    missing_punches: int = 0


@dataclass(frozen=True, slots=True)
class ScoreRule:
    """Points for the ý thức kỷ luật part of the general criteria (defaults: judgement)."""

    max_points: float = 5.0
    per_late_or_early: float = 0.5
    tolerated_late_or_early: int = 0
    per_hour_late_or_early: float = 0.0
    per_absent_day: float = 2.0
    per_missing_punch: float = 0.25
    tolerated_missing_punches: int = 2
    excellent_max_late_or_early: int = 2
    good_max_late_or_early: int = 5
    excellent_max_absent_days: float = 0.0
    good_max_absent_days: float = 1.0
    source: str = (
        "Nghị định 335/2025/NĐ-CP (tiêu chí chung 30 điểm, trong đó có ý thức kỷ luật); "
        "mức trừ điểm theo quy chế văn hóa công vụ của cơ quan (cấu hình)"
    )

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, float | str]) -> ScoreRule:
        """The defaults with an agency's own figures (setting ``KC_SCORE_RULE``, a JSON object
        such as ``{"per_late_or_early": 1, "source": "Quy chế văn hóa công vụ của Sở"}``).

        Raises ``ValueError`` with a Vietnamese message naming a key or a value it refuses."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, float | int | str] = {}
        for key, value in overrides.items():
            if key not in known:
                raise ValueError(
                    f"Quy tắc điểm kỷ luật: không có mục “{key}” "
                    f"(các mục: {', '.join(sorted(known))})"
                )
            if key == "source":
                values[key] = str(value)
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"Quy tắc điểm kỷ luật: “{key}” phải là một số") from None
            if number < 0 or number != number or number == float("inf"):
                raise ValueError(f"Quy tắc điểm kỷ luật: “{key}” phải là số không âm")
            values[key] = int(number) if known[key].type in (int, "int") else number
        if float(values.get("max_points", 1) or 0) <= 0:
            raise ValueError("Quy tắc điểm kỷ luật: điểm tối đa (max_points) phải lớn hơn 0")
        return replace(cls(), **values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Deduction:
    """One reason the score is below the maximum, with the points it costs."""

    code: str
    count: float
    points: float
    text: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The suggested score, the reasons and the thi đua flag (None: nothing stands in the way)."""

    score: float
    max_points: float
    deductions: tuple[Deduction, ...]
    flag: str | None
    flag_text: str | None


FLAGS = {
    "not_excellent": "Không đủ điều kiện Hoàn thành xuất sắc nhiệm vụ (ý thức kỷ luật)",
    "not_good": "Không đủ điều kiện Hoàn thành tốt nhiệm vụ (ý thức kỷ luật)",
}


def suggest_score(month: MonthRecord, rule: ScoreRule) -> Suggestion:
    """Turn a reviewed month into a suggested ý thức kỷ luật score and thi đua flag."""
    deductions: list[Deduction] = []
    events = month.late_count + month.early_count
    charged = max(0, events - rule.tolerated_late_or_early)
    if charged and rule.per_late_or_early:
        deductions.append(
            Deduction(
                "late_or_early",
                charged,
                round(charged * rule.per_late_or_early, 2),
                f"Đi muộn {month.late_count} lượt ({month.late_minutes} phút), về sớm "
                f"{month.early_count} lượt ({month.early_minutes} phút)"
                + (
                    f", trừ {rule.tolerated_late_or_early} lượt được châm chước"
                    if rule.tolerated_late_or_early
                    else ""
                ),
            )
        )
    hours = (month.late_minutes + month.early_minutes) / 60
    if hours and rule.per_hour_late_or_early:
        deductions.append(
            Deduction(
                "late_or_early_hours",
                round(hours, 2),
                round(hours * rule.per_hour_late_or_early, 2),
                f"Tổng thời gian đi muộn, về sớm {vn_number(round(hours, 2))} giờ",
            )
        )
    if month.absent_days and rule.per_absent_day:
        deductions.append(
            Deduction(
                "absent",
                month.absent_days,
                round(month.absent_days * rule.per_absent_day, 2),
                f"Nghỉ không lý do {vn_number(month.absent_days)} ngày",
            )
        )
    missing = max(0, month.missing_punches - rule.tolerated_missing_punches)
    if missing and rule.per_missing_punch:
        deductions.append(
            Deduction(
                "missing_punch",
                missing,
                round(missing * rule.per_missing_punch, 2),
                f"Quên chấm công {month.missing_punches} lượt (sau khi xét duyệt)"
                + (
                    f", trừ {rule.tolerated_missing_punches} lượt được châm chước"
                    if rule.tolerated_missing_punches
                    else ""
                ),
            )
        )
    lost = sum(d.points for d in deductions)
    score = round(max(0.0, rule.max_points - lost), 2)
    flag: str | None = None
    if events > rule.good_max_late_or_early or month.absent_days > rule.good_max_absent_days:
        flag = "not_good"
    elif (
        events > rule.excellent_max_late_or_early
        or month.absent_days > rule.excellent_max_absent_days
    ):
        flag = "not_excellent"
    return Suggestion(
        score, rule.max_points, tuple(deductions), flag, FLAGS[flag] if flag else None
    )
