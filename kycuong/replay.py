"""`kycuong replay`: the rules over files, with no broker and no database.

Reads a policy file (TOML or JSON, told apart by content), punches, manual punches,
excuses, reviews and people as JSON lines, and prints day records and violations as JSON
lines. The formats are in the README; a bad line is named in Vietnamese with file and line.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import tomllib
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from kycuong.errors import Invalid
from kycuong.inputs import choice, parse_day, quoted
from kycuong.labels import EXCUSE, EXCUSE_STATUS
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
    # Which punch it was, as the person said it: with ``direction`` "in" or "out", the
    # session it belongs to (the schedule's name, or sáng, chiều, đêm); the rules honour it.
    session: str | None = None


def _label(vocabulary: dict[str, str]) -> BeforeValidator:
    """A choice written as its Vietnamese label ("Nghỉ phép năm", "Đã duyệt") is its code;
    anything else is left for the field's own check, which lists the accepted codes."""

    def to_code(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return choice(vocabulary, value, "")
        except Invalid:
            return value

    return BeforeValidator(to_code)


def _day(value: Any) -> Any:
    """Dates as agencies write them: dd/mm/yyyy as well as ISO."""
    if not isinstance(value, str):
        return value
    try:
        return parse_day(value)
    except Invalid:
        return value  # the field's own message


_STATUS = {code: EXCUSE_STATUS[code] for code in ("approved", "pending")}
_Day = Annotated[date, BeforeValidator(_day)]


class ExcuseLine(_Line):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    person: str = Field(validation_alias=AliasChoices("person", "employee"))
    kind: Annotated[ExcuseKind, _label(EXCUSE)]
    first_day: _Day = Field(validation_alias=AliasChoices("from", "first_day"))
    last_day: _Day = Field(validation_alias=AliasChoices("to", "last_day"))
    sessions: list[str] | None = None
    status: Annotated[Literal["approved", "pending"], _label(_STATUS)] = "approved"


class ReviewLine(_Line):
    """A reviewer's decision, keyed by the violation's identity."""

    model_config = ConfigDict(extra="forbid")
    person: str = Field(validation_alias=AliasChoices("person", "employee"))
    day: _Day = Field(validation_alias=AliasChoices("date", "day"))
    session: str
    kind: Literal["late", "early_leave", "absent", "missing_in", "missing_out"]
    decision: Literal["confirmed", "excused", "dismissed"]
    reason_kind: Annotated[ExcuseKind | None, _label(EXCUSE)] = None
    by: str = ""
    note: str = ""


class PersonLine(_Line):
    """Someone to judge: a code, optionally their start and end dates and card numbers."""

    model_config = ConfigDict(extra="forbid")
    person: str = Field(validation_alias=AliasChoices("person", "employee", "code"))
    first_day: _Day | None = Field(default=None, validation_alias=AliasChoices("from", "start"))
    last_day: _Day | None = Field(default=None, validation_alias=AliasChoices("to", "end"))
    cards: list[str] = Field(default_factory=list)

    @field_validator("cards", mode="before")
    @classmethod
    def _card_codes(cls, value: Any) -> Any:
        return [_code(v) for v in value] if isinstance(value, list) else value


# What people read when a field is wrong: pydantic's error types, in Vietnamese. The
# accepted values (from the model itself) are added by ``explain``.
_MESSAGES = {
    "missing": "thiếu {field}",
    "extra_forbidden": "{field} không được dùng ở đây",
    "literal_error": "{field}: giá trị {value} không hợp lệ",
    "enum": "{field}: giá trị {value} không hợp lệ",
    "timezone_aware": "{field}: ngày giờ cần múi giờ, ví dụ 2026-11-23T07:30:00+07:00",
    "datetime_parsing": "{field}: không đọc được ngày giờ {value}",
    "datetime_from_date_parsing": "{field}: không đọc được ngày giờ {value}",
    "datetime_type": "{field}: không đọc được ngày giờ {value}",
    "date_parsing": "{field}: không đọc được ngày {value}",
    "date_from_datetime_parsing": "{field}: không đọc được ngày {value}",
    "date_from_datetime_inexact": "{field}: không đọc được ngày {value}",
    "date_type": "{field}: không đọc được ngày {value}",
    "time_parsing": "{field}: không đọc được giờ {value}",
    "time_type": "{field}: không đọc được giờ {value}",
    "int_parsing": "{field}: {value} không phải số nguyên",
    "int_type": "{field}: {value} không phải số nguyên",
    "int_from_float": "{field}: {value} không phải số nguyên",
    "bool_type": "{field}: {value} không phải true hoặc false",
    "bool_parsing": "{field}: {value} không phải true hoặc false",
    "string_type": "{field}: {value} không phải một chuỗi",
    "list_type": "{field}: {value} không phải một danh sách",
    "dict_type": "{field}: {value} không phải một bảng",
    "string_too_short": "{field}: không được để trống",
    "string_too_long": "{field}: quá dài (tối đa {max_length} ký tự)",
    "string_pattern_mismatch": "{field}: giá trị {value} không đúng dạng",
    "greater_than_equal": "{field}: {value} nhỏ hơn {ge}",
    "less_than_equal": "{field}: {value} lớn hơn {le}",
    "too_short": "{field}: cần ít nhất {min_length} phần tử",
    "json_invalid": "dòng không phải JSON hợp lệ",
    "json_type": "dòng không phải JSON hợp lệ",
    "model_type": "{field}: cần một bảng (đối tượng JSON {{...}})",
    "model_attributes_type": "cần một đối tượng JSON {{...}}",
}


def place(loc: Sequence[Any]) -> str:
    """Where a key is in a document, as people read it: ``schedule.sessions[0].start``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def explain(error: Any, model: type[BaseModel] | None = None) -> str:
    """One pydantic error → a Vietnamese sentence naming the key's place in the document
    and, when ``model`` is given, the values (or keys) it accepts."""
    loc = tuple(error.get("loc", ()))
    where = place(loc)
    field = f"'{where}'" if where else "dòng"
    ctx = dict(error.get("ctx") or {})
    kind = error["type"]
    if kind == "value_error":
        reason = str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
        text = f"{field}: {reason}" if where else reason
    else:
        template = _MESSAGES.get(kind, "{field}: giá trị {value} không hợp lệ")
        value = error.get("input")
        text = template.format(
            field=field if kind not in ("missing", "extra_forbidden") else f"khóa {field}",
            value=quoted(json.dumps(value, ensure_ascii=False, default=str), 60),
            **{k: v for k, v in ctx.items() if k not in ("field", "value")},
        )
    if model is None or kind in ("json_invalid", "json_type", "value_error"):
        return text  # a rule's own message already says what it accepts
    if "[key]" in loc or kind == "extra_forbidden":
        # A key that does not exist: name the keys its table has (and the nearest one).
        keys = accepted_keys(model, loc[: loc.index("[key]") - 1] if "[key]" in loc else loc[:-1])
        if keys:
            wrong = str(loc[-2] if "[key]" in loc else loc[-1])
            near = difflib.get_close_matches(wrong, keys, n=1)
            hint = f" (có phải {near[0]}?)" if near else ""
            if "[key]" in loc:
                text = (
                    f"khóa {quoted(json.dumps(wrong, ensure_ascii=False))} trong {_table(loc)} "
                    "không hợp lệ"
                )
            return f"{text}; {_table(loc)} chỉ nhận các khóa: {', '.join(keys)}{hint}"
        return text
    accepts = accepted_values(model, loc)
    return f"{text}; chấp nhận {accepts}" if accepts else text


def _table(loc: Sequence[Any]) -> str:
    """The table holding the wrong key at the end of ``loc``: ``[policy]``, or the file."""
    head = place(loc[:-2] if "[key]" in loc else loc[:-1])
    return f"[{head}]" if head else "tệp"


def _field_type(model: type[BaseModel], loc: Sequence[Any]) -> tuple[Any, list[Any]] | None:
    """The annotation and metadata (with the field's examples) of the value at ``loc`` in
    ``model``, or None."""
    annotation: Any = model
    metadata: list[Any] = []
    for part in loc:
        annotation = _strip_optional(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = _model_field(annotation, str(part))
            if field is None:
                return None
            annotation, metadata = field.annotation, [*field.metadata, field]
        elif get_origin(annotation) in (list, tuple) and isinstance(part, int):
            annotation, metadata = get_args(annotation)[0], []
        elif get_origin(annotation) is dict:
            key_type, value_type = get_args(annotation)
            annotation, metadata = (key_type if part == "[key]" else value_type), []
        else:
            return None
    return _strip_optional(annotation), metadata


def _model_field(model: type[BaseModel], name: str) -> Any:
    for key, field in model.model_fields.items():
        if name in (key, field.alias):
            return field
    return None


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:  # a value with its validator: the value's type
        annotation = get_args(annotation)[0]
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return args[0]
    return annotation


def accepted_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys the table at ``loc`` accepts (its fields, or a dict's allowed keys)."""
    found = _field_type(model, loc)
    if found is None:
        return []
    annotation = found[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or k for k, f in annotation.model_fields.items()]
    if get_origin(annotation) is dict:
        key_type = get_args(annotation)[0]
        if get_origin(key_type) is Literal:
            return [str(a) for a in get_args(key_type)]
    return []


def accepted_values(model: type[BaseModel], loc: Sequence[Any]) -> str | None:
    """What the value at ``loc`` may be, in Vietnamese: "một trong: a, b", "số nguyên từ 0
    đến 120", "giờ hh:mm:ss"…; None when there is nothing useful to say."""
    found = _field_type(model, loc)
    if found is None:
        return None
    return _describe(*found)


def _describe(annotation: Any, metadata: list[Any]) -> str | None:
    examples = next((m.examples for m in metadata if getattr(m, "examples", None)), None)
    if examples:
        return f"{_describe(annotation, [])}, ví dụ {examples[0]}"
    origin = get_origin(annotation)
    if origin is Literal:
        return "một trong: " + ", ".join(str(a) for a in get_args(annotation))
    if origin in (list, tuple):
        item = _describe(_strip_optional(get_args(annotation)[0]), [])
        return f"một danh sách [...]{', mỗi phần tử ' + item if item else ''}"
    if origin is dict:
        return "một bảng {...}"
    if annotation is bool:
        return "true hoặc false"
    if annotation is int:
        low = next((m.ge for m in metadata if getattr(m, "ge", None) is not None), None)
        high = next((m.le for m in metadata if getattr(m, "le", None) is not None), None)
        if low is not None and high is not None:
            return f"số nguyên từ {low} đến {high}"
        return "số nguyên"
    if annotation is str:
        pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
        if pattern == r"^\d{2}-\d{2}$":
            return "ngày dạng MM-DD, ví dụ 04-15"
        return "một chuỗi"
    if annotation is time:
        return "giờ dạng hh:mm:ss, ví dụ 07:30:00"
    if annotation is date:
        return "ngày dạng dd/mm/yyyy hoặc yyyy-mm-dd, ví dụ 31/12/2026"
    if annotation is datetime or annotation is AwareDatetime:
        return "ngày giờ ISO 8601 có múi giờ, ví dụ 2026-11-23T07:30:00+07:00"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        keys = [f.alias or k for k, f in annotation.model_fields.items()]
        return "một bảng với các khóa: " + ", ".join(keys)
    return None


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of a policy file where the key an error names is written (best effort): the
    key itself, else the table header (``[schedule.rota]``) that holds it."""
    keys = [str(p) for p in loc if isinstance(p, str) and p != "[key]"]
    lines = text.splitlines()
    for depth in range(len(keys), 0, -1):
        key = keys[depth - 1]
        pattern = re.compile(
            rf'^\s*"?{re.escape(key)}"?\s*[=:]|[{{,]\s*"?{re.escape(key)}"?\s*[=:]'
        )
        header = re.compile(rf"^\s*\[\[?\s*{re.escape('.'.join(keys[:depth]))}\s*\]")
        for number, line in enumerate(lines, start=1):
            if pattern.search(line) or header.search(line):
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
    except (RecursionError, ValueError) as exc:  # nested too deep; a number of 4,300+ digits
        raise ReplayError(f"{path}: tệp lồng quá sâu hoặc có số quá lớn, không đọc được") from exc
    try:
        return RulesDoc.model_validate(data)
    except RecursionError as exc:
        raise ReplayError(f"{path}: tệp lồng quá sâu, không đọc được") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        line = _line_of(text, tuple(first["loc"]))
        where = f"{path}:{line}" if line else str(path)
        raise ReplayError(f"{where}: {explain(first, RulesDoc)}") from exc


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    # Excel on Windows saves Vietnamese as Windows-1258, not UTF-8.
                    raise ReplayError(
                        f"{path}:{number}: dòng không phải văn bản UTF-8 (có thể tệp được lưu"
                        " bằng mã Windows-1258); hãy lưu lại tệp dạng UTF-8"
                    ) from exc
                if line.strip() and not line.lstrip().startswith("#"):
                    yield number, line
    except OSError as exc:
        raise ReplayError(f"{path}: không đọc được tệp ({exc.strerror})") from exc


def _parse(model: type[_T], path: Path, number: int, line: str) -> _T:
    try:
        return model.model_validate_json(line)
    except ValidationError as exc:
        raise ReplayError(f"{path}:{number}: {explain(exc.errors()[0], model)}") from exc


# The side of a forgotten punch as the request form and a clerk write it (Quên chấm công
# vào / ra), with or without diacritics.
_SIDES = {"vào": "in", "vao": "in", "ra": "out"}


def load_punches(
    path: Path, manual: bool = False, sessions: list[str] | None = None
) -> list[ReplayPunch]:
    """Punches (or, with ``manual``, accepted forgotten punches); a contract-v1 line as it is.
    A manual punch may say its session (``sessions``: the schedule's names) and side."""
    model: type[PunchLine] = ManualPunchLine if manual else PunchLine
    punches = []
    for number, line in _lines(path):
        row = _parse(model, path, number, line)
        fallback: int | str = f"manual-{number}" if manual else number
        said = row.session if isinstance(row, ManualPunchLine) else None
        direction = row.direction
        if said is not None:
            direction = _SIDES.get(direction.strip().lower(), direction)
            if direction not in ("in", "out"):
                raise ReplayError(
                    f"{path}:{number}: 'direction': giá trị {row.direction!r} không hợp lệ "
                    "khi có 'session'; chấp nhận một trong: in, out (vào, ra)"
                )
            try:
                (said,) = resolve_session_names([said], sessions or [said])
            except SessionNameError as exc:
                raise ReplayError(f"{path}:{number}: 'session': {exc}") from exc
        punches.append(
            ReplayPunch(
                row.person,
                row.at,
                row.id if row.id is not None else fallback,
                direction,
                manual,
                said,
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
                f"{path}:{number}: 'to' ({row.last_day:%d/%m/%Y}) trước 'from' "
                f"({row.first_day:%d/%m/%Y})"
            )
        chosen: frozenset[str] | None = None
        if row.sessions == []:
            raise ReplayError(
                f"{path}:{number}: 'sessions': danh sách trống; bỏ khóa này để nghỉ cả ngày, "
                f"hoặc ghi các ca: {', '.join(sessions or ['sáng', 'chiều'])}"
            )
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
                f"{path}:{number}: 'to' ({row.last_day:%d/%m/%Y}) trước 'from' "
                f"({row.first_day:%d/%m/%Y})"
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
    facts = load_punches(punches) + (load_punches(manual, True, names) if manual else [])
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
