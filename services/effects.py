"""The effect of a recomputation before it is written (tác động khi tính lại): loads the
inputs, runs the runner without writing, and sums the changes with the pure
``rules.effect.summarize``. The CLI (`recompute`, `policy load`, `agencies set-start`) and
the rules page show the same view and ask for confirmation above a threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.labels import VIOLATION
from rules.effect import Effect, summarize
from runner.directory import RulesDirectory
from runner.recompute import recompute
from store.bulk import among
from store.models import Employee, Unit
from store.queue import Key

BATCH = 5_000  # keys evaluated at once: bounded memory over an agency's year
SHOWN_PEOPLE = 20
# What an "updated" violation changes: its minutes, its evidence, or provisional ↔ final.
DETAILS = "chỉ thay đổi chi tiết (số phút, lượt chấm làm bằng chứng hoặc trạng thái tạm tính)"


@dataclass(frozen=True, slots=True)
class KindLine:
    kind: str
    label: str
    appear: int
    withdrawn: int


@dataclass(frozen=True, slots=True)
class PersonLine:
    code: str
    full_name: str
    unit_name: str
    appear: int
    withdrawn: int


@dataclass(frozen=True, slots=True)
class EffectView:
    """What would change, as people read it; ``needs_confirmation`` above ``threshold``."""

    keys: int
    appear: int
    withdrawn: int
    updated: int
    people_count: int
    first_day: date | None
    last_day: date | None
    kinds: tuple[KindLine, ...]
    people: tuple[PersonLine, ...]  # the most affected first, at most SHOWN_PEOPLE
    threshold: int

    @property
    def total(self) -> int:
        return self.appear + self.withdrawn

    @property
    def needs_confirmation(self) -> bool:
        return self.total > self.threshold


def dry_run(
    db: DbSession, keys: Iterable[Key], now: datetime, directory: RulesDirectory | None = None
) -> Effect:
    """The changes a recompute of ``keys`` as of ``now`` would write, summed; writes nothing."""
    ordered = sorted(set(keys))
    rules = directory or RulesDirectory(max_age_s=0)
    changes = []
    for start in range(0, len(ordered), BATCH):
        stats = recompute(db, ordered[start : start + BATCH], now, rules, write=False)
        changes.extend(stats.changes)
    return summarize(changes)


def view(db: DbSession, effect: Effect, keys: int, threshold: int) -> EffectView:
    """An ``Effect`` with names: the kinds' labels and the people most affected."""
    shown = effect.per_person[:SHOWN_PEOPLE]
    names = {
        row.id: row
        for row in db.execute(
            select(Employee.id, Employee.code, Employee.full_name, Unit.name.label("unit"))
            .join(Unit, Unit.id == Employee.unit_id)
            .where(among(db, Employee.id, [e for e, _, _ in shown]))
        )
    }
    return EffectView(
        keys=keys,
        appear=effect.appear,
        withdrawn=effect.withdrawn,
        updated=effect.updated,
        people_count=len(effect.people),
        first_day=effect.first_day,
        last_day=effect.last_day,
        kinds=tuple(
            KindLine(k.kind, VIOLATION.get(k.kind, k.kind), k.appear, k.withdrawn)
            for k in effect.kinds
            if k.appear or k.withdrawn
        ),
        people=tuple(
            PersonLine(names[e].code, names[e].full_name, names[e].unit, a, w)
            for e, a, w in shown
            if e in names
        ),
        threshold=threshold,
    )


def recompute_effect(
    db: DbSession, keys: Iterable[Key], now: datetime, threshold: int
) -> EffectView:
    """The effect of recomputing ``keys`` now (the preview of `kycuong recompute`)."""
    wanted = set(keys)
    return view(db, dry_run(db, wanted, now), len(wanted), threshold)


def describe(effect: EffectView) -> list[str]:
    """The effect in Vietnamese, a line each (the CLI prints these; the page renders the view)."""
    if not effect.total:
        line = f"Không có vi phạm nào xuất hiện hay bị thu hồi ({effect.keys} lượt người-ngày)."
        if effect.updated:
            line += f" {effect.updated} vi phạm {DETAILS}."
        return [line]
    span = ""
    if effect.first_day and effect.last_day:
        span = f", từ ngày {effect.first_day:%d/%m/%Y} đến ngày {effect.last_day:%d/%m/%Y}"
    lines = [
        f"Sẽ xuất hiện {effect.appear} vi phạm và thu hồi {effect.withdrawn} vi phạm "
        f"của {effect.people_count} cán bộ{span}."
    ]
    for kind in effect.kinds:
        lines.append(f"  {kind.label}: +{kind.appear} / −{kind.withdrawn}")
    if effect.updated:
        lines.append(f"  ({effect.updated} vi phạm khác vẫn giữ nguyên, {DETAILS})")
    lines.append("Cán bộ bị ảnh hưởng nhiều nhất:")
    for person in effect.people[:10]:
        lines.append(
            f"  {person.code} {person.full_name} ({person.unit_name}): "
            f"+{person.appear} / −{person.withdrawn}"
        )
    if effect.people_count > 10:
        lines.append(f"  … và {effect.people_count - 10} cán bộ khác")
    return lines
