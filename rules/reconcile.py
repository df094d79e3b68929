"""What changed between the stored violations of a day and a fresh evaluation (pure).

The runner writes only this difference. A violation that disappears is withdrawn, not
deleted, so its history and any review of it stay; one that comes back is restored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from rules.evaluate import Violation

ViolationKey = tuple[str, str]  # (session, kind) within one employee and date
ChangeAction = Literal["detected", "updated", "withdrawn", "restored"]


@dataclass(frozen=True, slots=True)
class StoredViolation:
    """A violation as stored: its last evaluated content and whether it still stands."""

    minutes: int
    evidence: tuple[int, ...]
    provisional: bool
    pending_excuse: int | None
    active: bool = True

    @classmethod
    def of(cls, violation: Violation) -> StoredViolation:
        return cls(
            violation.minutes,
            violation.evidence,
            violation.provisional,
            violation.pending_excuse,
        )


@dataclass(frozen=True, slots=True)
class Change:
    key: ViolationKey
    action: ChangeAction
    violation: Violation | None  # the new content; None when withdrawn


def key_of(violation: Violation) -> ViolationKey:
    return violation.session, violation.kind


def reconcile(
    stored: Mapping[ViolationKey, StoredViolation], fresh: Iterable[Violation]
) -> list[Change]:
    """The changes that turn ``stored`` into ``fresh``; empty when nothing changed."""
    fresh_by_key: dict[ViolationKey, Violation] = {(v.session, v.kind): v for v in fresh}
    if not stored:  # a day judged for the first time (most keys of a morning): all new
        return [Change(key, "detected", fresh_by_key[key]) for key in sorted(fresh_by_key)]
    changes: list[Change] = []
    for key, violation in fresh_by_key.items():
        old = stored.get(key)
        if old is None:
            changes.append(Change(key, "detected", violation))
        elif not old.active:
            changes.append(Change(key, "restored", violation))
        elif old != StoredViolation.of(violation):
            changes.append(Change(key, "updated", violation))
    for key, old in stored.items():
        if old.active and key not in fresh_by_key:
            changes.append(Change(key, "withdrawn", None))
    changes.sort(key=lambda c: c.key)
    return changes


def apply_changes(
    stored: Mapping[ViolationKey, StoredViolation], changes: Iterable[Change]
) -> dict[ViolationKey, StoredViolation]:
    """The stored state after ``changes`` (what the runner's writes amount to)."""
    state = dict(stored)
    for change in changes:
        if change.violation is None:
            old = state[change.key]
            state[change.key] = StoredViolation(
                old.minutes, old.evidence, old.provisional, old.pending_excuse, active=False
            )
        else:
            state[change.key] = StoredViolation.of(change.violation)
    return state
