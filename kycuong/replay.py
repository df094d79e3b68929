"""`kycuong replay`: the rules over files, with no broker and no database.

Reads a policy file (TOML or JSON, told apart by content), punches, manual punches,
excuses, reviews and people as JSON lines, and prints day records and violations as JSON
lines. The formats are in the README; a bad line is named in Vietnamese with file and line.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from rules.config import RulesDoc, SessionNameError, resolve_session_names
from rules.evaluate import Excuse, ExcuseKind
from rules.replay import ReplayPerson, ReplayPunch, ReplayReview, replay

_T = TypeVar("_T", bound=BaseModel)


class ReplayError(ValueError):
    """A file the replay cannot read; the message names the file and line, in Vietnamese."""


def _code(value: Any) -> Any:
    """Numeric employee ids and card numbers are codes too."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _Line(BaseModel):
    """A line of a replay file: numeric employee ids are codes too."""

    @field_validator("person", mode="before", check_fields=False)
    @classmethod
    def _person_code(cls, value: Any) -> Any:
        return _code(value)


class PunchLine(_Line):
    """One punch: who (an employee code, or a card as a reader exports it) and when."""

    model_config = ConfigDict(extra="ignore")
    person: str = Field(
        validation_alias=AliasChoices("person", "employee", "card", "credential_value")
    )
    at: AwareDatetime = Field(validation_alias=AliasChoices("at", "ts"))
    id: int | str | None = Field(default=None, validation_alias=AliasChoices("id", "event_id"))
    direction: str = "unknown"


class ManualPunchLine(PunchLine):
    """A forgotten punch the unit head accepted (đề nghị bổ sung giờ chấm): who asked, who
    approved and why are kept in the file; the replay marks it manual in the output."""

    reason: str = ""
    requested_by: str = ""
    approved_by: str = ""


class ExcuseLine(_Line):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    person: str = Field(validation_alias=AliasChoices("person", "employee"))
    kind: ExcuseKind
    first_day: date = Field(validation_alias=AliasChoices("from", "first_day"))
    last_day: date = Field(validation_alias=AliasChoices("to", "last_day"))
    sessions: list[str] | None = None
    status: Literal["approved", "pending"] = "approved"


class ReviewLine(_Line):
    """A reviewer's decision, keyed by the violation's identity."""

    model_config = ConfigDict(extra="forbid")
    person: str = Field(validation_alias=AliasChoices("person", "employee"))
    day: date = Field(validation_alias=AliasChoices("date", "day"))
    session: str
    kind: Literal["late", "early_leave", "absent", "missing_in", "missing_out"]
    decision: Literal["confirmed", "excused", "dismissed"]
    reason_kind: ExcuseKind | None = None
    by: str = ""
    note: str = ""


class PersonLine(_Line):
    """Someone to judge: a code, optionally their start and end dates and card numbers."""

    model_config = ConfigDict(extra="forbid")
    person: str = Field(validation_alias=AliasChoices("person", "employee", "code"))
    first_day: date | None = Field(default=None, validation_alias=AliasChoices("from", "start"))
    last_day: date | None = Field(default=None, validation_alias=AliasChoices("to", "end"))
    cards: list[str] = Field(default_factory=list)

    @field_validator("cards", mode="before")
    @classmethod
    def _card_codes(cls, value: Any) -> Any:
        return [_code(v) for v in value] if isinstance(value, list) else value


# What people read when a field is wrong: pydantic's error types, in Vietnamese.
_MESSAGES = {
    "missing": "thiếu trường {field}",
    "extra_forbidden": "trường {field} không được dùng ở đây",
    "literal_error": "{field}: giá trị {value} không hợp lệ; chấp nhận: {expected}",
    "timezone_aware": "{field}: ngày giờ cần múi giờ, ví dụ 2026-11-23T07:30:00+07:00",
    "datetime_parsing": "{field}: không đọc được ngày giờ {value} "
    "(ISO 8601 có múi giờ, ví dụ 2026-11-23T07:30:00+07:00)",
    "datetime_from_date_parsing": "{field}: không đọc được ngày giờ {value} "
    "(ISO 8601 có múi giờ, ví dụ 2026-11-23T07:30:00+07:00)",
    "datetime_type": "{field}: cần ngày giờ (ISO 8601 có múi giờ)",
    "date_parsing": "{field}: không đọc được ngày {value} (yyyy-mm-dd, ví dụ 2026-11-23)",
    "date_from_datetime_parsing": "{field}: không đọc được ngày {value} "
    "(yyyy-mm-dd, ví dụ 2026-11-23)",
    "date_type": "{field}: cần một ngày (yyyy-mm-dd)",
    "time_parsing": "{field}: không đọc được giờ {value} (hh:mm:ss, ví dụ 07:30:00)",
    "int_parsing": "{field}: cần một số nguyên, không phải {value}",
    "int_type": "{field}: cần một số nguyên",
    "int_from_float": "{field}: cần một số nguyên, không phải {value}",
    "bool_type": "{field}: cần true hoặc false",
    "bool_parsing": "{field}: cần true hoặc false",
    "string_type": "{field}: cần một chuỗi",
    "list_type": '{field}: cần một danh sách, ví dụ ["morning"]',
    "string_too_short": "{field}: không được để trống",
    "string_too_long": "{field}: quá dài (tối đa {max_length} ký tự)",
    "string_pattern_mismatch": "{field}: giá trị {value} không đúng dạng {pattern}",
    "greater_than_equal": "{field}: phải lớn hơn hoặc bằng {ge}, không phải {value}",
    "less_than_equal": "{field}: phải nhỏ hơn hoặc bằng {le}, không phải {value}",
    "too_short": "{field}: cần ít nhất {min_length} phần tử",
    "json_invalid": "dòng không phải JSON hợp lệ",
    "json_type": "dòng không phải JSON hợp lệ",
    "model_type": "{field}: cần một đối tượng JSON {{...}}",
    "model_attributes_type": "cần một đối tượng JSON {{...}}",
}


def explain(error: Any) -> str:
    """One pydantic error → a Vietnamese sentence naming the field and the accepted values."""
    loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int) or p]
    field = ".".join(loc) or "dòng"
    ctx = dict(error.get("ctx") or {})
    if error["type"] == "value_error":
        reason = str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
        return f"'{field}': {reason}" if loc else reason
    template = _MESSAGES.get(error["type"])
    if template is None:
        return f"{field}: giá trị không hợp lệ ({error['msg']})"
    value = error.get("input")
    expected = str(ctx.get("expected", ""))
    return template.format(
        field=f"'{field}'" if loc else "dòng",
        value=json.dumps(value, ensure_ascii=False, default=str)[:60],
        **{**ctx, "expected": expected},
    )


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of a policy file where the field an error names is written (best effort)."""
    keys = [str(p) for p in loc if isinstance(p, str)]
    for key in reversed(keys):
        pattern = re.compile(
            rf'^\s*"?{re.escape(key)}"?\s*[=:]|[{{,]\s*"?{re.escape(key)}"?\s*[=:]'
        )
        for number, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line):
                return number
    return None


def load_rules(path: Path) -> RulesDoc:
    """A policy file, TOML or JSON whatever its name (told apart by its first character)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ReplayError(f"{path}: không đọc được tệp ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ReplayError(f"{path}: tệp không phải văn bản UTF-8; hãy lưu lại dạng UTF-8") from exc
    return parse_rules(text, str(path))


def parse_rules(text: str, path: str) -> RulesDoc:
    """A policy file's text (TOML or JSON); errors name ``path`` and the line, in Vietnamese."""
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{path}:{exc.lineno}: JSON không hợp lệ ({exc.msg})") from exc
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        where = f"{path}:{found.group(1)}" if found else str(path)
        raise ReplayError(f"{where}: TOML không hợp lệ ({exc})") from exc
    try:
        return RulesDoc.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        line = _line_of(text, tuple(first["loc"]))
        where = f"{path}:{line}" if line else str(path)
        raise ReplayError(f"{where}: {explain(first)}") from exc


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip() and not line.lstrip().startswith("#"):
                    yield number, line
    except OSError as exc:
        raise ReplayError(f"{path}: không đọc được tệp ({exc.strerror})") from exc


def _parse(model: type[_T], path: Path, number: int, line: str) -> _T:
    try:
        return model.model_validate_json(line)
    except ValidationError as exc:
        raise ReplayError(f"{path}:{number}: {explain(exc.errors()[0])}") from exc


def load_punches(path: Path, manual: bool = False) -> list[ReplayPunch]:
    """Punches (or, with ``manual``, accepted forgotten punches); a contract-v1 line as it is."""
    model: type[PunchLine] = ManualPunchLine if manual else PunchLine
    punches = []
    for number, line in _lines(path):
        row = _parse(model, path, number, line)
        fallback: int | str = f"manual-{number}" if manual else number
        punches.append(
            ReplayPunch(
                row.person,
                row.at,
                row.id if row.id is not None else fallback,
                row.direction,
                manual,
            )
        )
    return punches


def load_excuses(path: Path, sessions: list[str] | None = None) -> list[tuple[str, Excuse]]:
    """Excuses; session names are the schedule's (``sessions``) or sáng, chiều, đêm."""
    excuses = []
    for number, line in _lines(path):
        row = _parse(ExcuseLine, path, number, line)
        if row.last_day < row.first_day:
            raise ReplayError(
                f"{path}:{number}: 'to' ({row.last_day}) trước 'from' ({row.first_day})"
            )
        chosen: frozenset[str] | None = None
        if row.sessions:
            try:
                chosen = resolve_session_names(row.sessions, sessions or list(row.sessions))
            except SessionNameError as exc:
                raise ReplayError(f"{path}:{number}: 'sessions': {exc}") from exc
        excuses.append(
            (row.person, Excuse(number, row.kind, row.first_day, row.last_day, chosen, row.status))
        )
    return excuses


def load_reviews(path: Path, sessions: list[str] | None = None) -> list[ReplayReview]:
    reviews = []
    for number, line in _lines(path):
        row = _parse(ReviewLine, path, number, line)
        try:
            (session,) = resolve_session_names([row.session], sessions or [row.session])
        except SessionNameError as exc:
            raise ReplayError(f"{path}:{number}: 'session': {exc}") from exc
        reviews.append(
            ReplayReview(
                row.person,
                row.day,
                session,
                row.kind,
                row.decision,
                row.reason_kind,
                row.by,
                row.note,
            )
        )
    return reviews


def load_people(path: Path) -> list[ReplayPerson]:
    """One person a line: a code alone, or a JSON object with dates and cards."""
    people = []
    for number, line in _lines(path):
        text = line.strip()
        if not text.startswith("{"):
            people.append(ReplayPerson(text))
            continue
        row = _parse(PersonLine, path, number, text)
        if row.first_day and row.last_day and row.last_day < row.first_day:
            raise ReplayError(
                f"{path}:{number}: 'to' ({row.last_day}) trước 'from' ({row.first_day})"
            )
        people.append(ReplayPerson(row.person, row.first_day, row.last_day, tuple(row.cards)))
    return people


def run_replay(
    policy: Path,
    punches: Path,
    excuses: Path | None,
    first: date,
    last: date,
    now: datetime | None,
    people: Path | None,
    manual: Path | None = None,
    reviews: Path | None = None,
) -> int:
    rules = load_rules(policy)
    if last < first:
        raise ReplayError("--to trước --from: khoảng ngày bị ngược")
    names = rules.schedule.session_names()
    roster = load_people(people) if people else []
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ReplayError("--now cần múi giờ, ví dụ 2026-11-23T10:00:00+07:00")
    facts = load_punches(punches) + (load_punches(manual, manual=True) if manual else [])
    out = sys.stdout
    for record in replay(
        rules,
        facts,
        load_excuses(excuses, names) if excuses else [],
        first,
        last,
        moment,
        roster,
        load_reviews(reviews, names) if reviews else [],
    ):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0
