"""The effect of a recomputation or a change of rules, summed up before it is written
(pure): how many violations would appear, be withdrawn or change, for whom, per kind, and
from which date. The CLI and the rules page show it and ask for confirmation above a
threshold (a go-live or a new rules file must not flag a whole agency unseen).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from rules.reconcile import Change

APPEARS = frozenset({"detected", "restored"})


@dataclass(frozen=True, slots=True)
class KindEffect:
    """One kind of violation: how many would appear, be withdrawn, be updated."""

    kind: str
    appear: int = 0
    withdrawn: int = 0
    updated: int = 0


@dataclass(frozen=True, slots=True)
class Effect:
    """What writing the changes would do: ``people`` (employee ids, most affected first) and
    the dates are those of violations appearing or withdrawn."""

    appear: int
    withdrawn: int
    updated: int
    people: tuple[int, ...]
    first_day: date | None
    last_day: date | None
    kinds: tuple[KindEffect, ...] = field(default_factory=tuple)
    per_person: tuple[tuple[int, int, int], ...] = ()  # (employee id, appear, withdrawn)

    @property
    def total(self) -> int:
        """Violations that would appear or be withdrawn (what needs confirmation)."""
        return self.appear + self.withdrawn

    def needs_confirmation(self, threshold: int) -> bool:
        return self.total > threshold


def summarize(changes: Iterable[tuple[int, date, Change]]) -> Effect:
    """Sum up ``(employee id, date, change)`` triples (the reconcile output per key)."""
    appear = withdrawn = updated = 0
    kinds: dict[str, list[int]] = {}
    people: dict[int, list[int]] = {}
    days: list[date] = []
    for employee_id, day, change in changes:
        counts = kinds.setdefault(change.key[1], [0, 0, 0])
        if change.action in APPEARS:
            appear += 1
            counts[0] += 1
            people.setdefault(employee_id, [0, 0])[0] += 1
        elif change.action == "withdrawn":
            withdrawn += 1
            counts[1] += 1
            people.setdefault(employee_id, [0, 0])[1] += 1
        else:
            updated += 1
            counts[2] += 1
            continue  # a change of minutes is not a violation appearing or going
        days.append(day)
    ranked = sorted(people.items(), key=lambda item: (-(item[1][0] + item[1][1]), item[0]))
    return Effect(
        appear=appear,
        withdrawn=withdrawn,
        updated=updated,
        people=tuple(e for e, _ in ranked),
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
        kinds=tuple(KindEffect(k, *v) for k, v in sorted(kinds.items())),
        per_person=tuple((e, a, w) for e, (a, w) in ranked),
    )
