"""`kycuong replay`: the rules over files, with no broker and no database.

Reads a policy file (TOML or JSON), punches and optionally excuses as JSON lines, and
prints day records and violations as JSON lines. The formats are in the README.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from rules.config import RulesDoc
from rules.evaluate import Excuse, ExcuseKind
from rules.replay import ReplayPunch, replay


class ReplayError(ValueError):
    """A file the replay cannot read; the message names the file and line."""


class PunchLine(BaseModel):
    """One punch: who (an employee code, or a card as a reader exports it) and when."""

    model_config = ConfigDict(extra="ignore")
    person: str = Field(
        validation_alias=AliasChoices("person", "employee", "card", "credential_value")
    )
    at: AwareDatetime = Field(validation_alias=AliasChoices("at", "ts"))
    id: int | None = None
    direction: str = "unknown"


class ExcuseLine(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    person: str = Field(validation_alias=AliasChoices("person", "employee"))
    kind: ExcuseKind
    first_day: date = Field(validation_alias=AliasChoices("from", "first_day"))
    last_day: date = Field(validation_alias=AliasChoices("to", "last_day"))
    sessions: list[str] | None = None
    status: Literal["approved", "pending"] = "approved"


def load_rules(path: Path) -> RulesDoc:
    try:
        data = (
            tomllib.loads(path.read_text())
            if path.suffix == ".toml"
            else json.loads(path.read_text())
        )
        return RulesDoc.model_validate(data)
    except (OSError, ValueError) as exc:
        raise ReplayError(f"{path}: {exc}") from exc


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line
    except OSError as exc:
        raise ReplayError(f"{path}: {exc}") from exc


def load_punches(path: Path) -> list[ReplayPunch]:
    punches = []
    for number, line in _lines(path):
        try:
            row = PunchLine.model_validate_json(line)
        except ValidationError as exc:
            raise ReplayError(f"{path}:{number}: {exc.errors()[0]['msg']}") from exc
        punches.append(
            ReplayPunch(row.person, row.at, row.id if row.id is not None else number, row.direction)
        )
    return punches


def load_excuses(path: Path) -> list[tuple[str, Excuse]]:
    excuses = []
    for number, line in _lines(path):
        try:
            row = ExcuseLine.model_validate_json(line)
        except ValidationError as exc:
            raise ReplayError(f"{path}:{number}: {exc.errors()[0]['msg']}") from exc
        if row.last_day < row.first_day:
            raise ReplayError(f"{path}:{number}: 'to' is before 'from'")
        sessions = frozenset(row.sessions) if row.sessions else None
        excuses.append(
            (
                row.person,
                Excuse(number, row.kind, row.first_day, row.last_day, sessions, row.status),
            )
        )
    return excuses


def run_replay(
    policy: Path,
    punches: Path,
    excuses: Path | None,
    first: date,
    last: date,
    now: datetime | None,
    people: Path | None,
) -> int:
    rules = load_rules(policy)
    if last < first:
        raise ReplayError("--to is before --from")
    roster = [line.strip() for _, line in _lines(people)] if people else []
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ReplayError("--now needs an offset, e.g. 2026-11-23T10:00:00+07:00")
    out = sys.stdout
    for record in replay(
        rules,
        load_punches(punches),
        load_excuses(excuses) if excuses else [],
        first,
        last,
        moment,
        roster,
    ):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0
