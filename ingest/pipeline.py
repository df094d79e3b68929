"""From a batch of MQTT messages to committed rows: decode, check the device, store.

The MQTT worker hands batches here; the function returns only after the commit, so the
caller may then acknowledge every message of the batch (ack after commit).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select

from ingest.contract import PAYLOAD_MODELS, HeartbeatV1, Payload, PunchV1, StatusV1, parse_topic
from store.db import db_session
from store.models import Device
from store.punches import insert_dead_letters, insert_punches, record_unmatched, update_devices
from store.queue import enqueue_for_punches

log = logging.getLogger(__name__)

# A measured clock offset smaller than this is network jitter, not drift.
MIN_OFFSET_CORRECTION_S = 1.0
# A change of the measured offset larger than this is a clock set by hand: tell the operator.
CLOCK_JUMP_WARNING_S = 60.0


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message as the worker received it."""

    topic: str
    payload: bytes
    received_at: datetime
    retain: bool = False
    mid: int = 0
    qos: int = 1
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message became a dead letter: a stable code and a readable reason."""

    code: str
    reason: str


@dataclass(slots=True)
class Receipt:
    """What one device is told after a commit: event ids stored, and refused with a code."""

    stored: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def payload(self, device_id: str) -> bytes:
        return json.dumps(
            {"v": 1, "device_id": device_id, "stored": self.stored, "refused": self.refused}
        ).encode()


@dataclass(slots=True)
class BatchOutcome:
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    dead_letters: int = 0
    heartbeats: int = 0
    statuses: int = 0
    keys: int = 0
    dead_by_code: dict[str, int] = field(default_factory=dict)
    receipts: dict[str, Receipt] = field(default_factory=dict)

    def merge(self, other: BatchOutcome) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.unmatched += other.unmatched
        self.dead_letters += other.dead_letters
        self.heartbeats += other.heartbeats
        self.statuses += other.statuses
        self.keys += other.keys
        for code, count in other.dead_by_code.items():
            self.dead_by_code[code] = self.dead_by_code.get(code, 0) + count
        for device_id, receipt in other.receipts.items():
            mine = self.receipts.setdefault(device_id, Receipt())
            mine.stored.extend(receipt.stored)
            mine.refused.update(receipt.refused)

    def refuse(self, message: Message, code: str) -> None:
        """Name a dead-lettered punch in its device's receipt, so the device stops resending."""
        named = punch_identity(message)
        if named is not None:
            self.receipts.setdefault(named[0], Receipt()).refused[named[1]] = code


def punch_identity(message: Message) -> tuple[str, str] | None:
    """(device id, event id) of a punch message, read leniently; None when neither is readable."""
    parsed = parse_topic(message.topic)
    if parsed is None or parsed[1] != "punch":
        return None
    try:
        event_id = json.loads(message.payload).get("event_id")
    except (ValueError, AttributeError):
        return None
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 128:
        return None
    return parsed[0], event_id


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    enabled: bool
    clock_offset_s: float | None


class DeviceDirectory:
    """The known readers, cached; reloaded periodically and (at most once a second) on a miss."""

    def __init__(self, engine: Engine, max_age_s: float = 30.0) -> None:
        self._engine = engine
        self._max_age_s = max_age_s
        self._devices: dict[str, DeviceInfo] = {}
        self._loaded_at = float("-inf")

    def get(self, device_id: str) -> DeviceInfo | None:
        now = time.monotonic()
        if now - self._loaded_at > self._max_age_s or (
            device_id not in self._devices and now - self._loaded_at > 1.0
        ):
            self.reload()
        return self._devices.get(device_id)

    def reload(self) -> None:
        with db_session(self._engine) as db:
            rows = db.execute(select(Device.id, Device.enabled, Device.clock_offset_s)).all()
        self._devices = {row.id: DeviceInfo(row.enabled, row.clock_offset_s) for row in rows}
        self._loaded_at = time.monotonic()

    def set_offset(self, device_id: str, offset_s: float) -> None:
        info = self._devices.get(device_id)
        if info is not None:
            self._devices[device_id] = DeviceInfo(info.enabled, offset_s)


def decode(message: Message) -> Payload | Rejection:
    """Parse and validate one message against the contract; never raises."""
    parsed = parse_topic(message.topic)
    if parsed is None:
        return Rejection("unknown_topic", f"topic {message.topic!r} is not part of contract v1")
    topic_device, kind = parsed
    try:
        payload = PAYLOAD_MODELS[kind].model_validate_json(message.payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if errors and errors[0]["type"] == "json_invalid":
            return Rejection("malformed_json", f"not valid JSON: {errors[0]['msg']}")
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:5]
        )
        return Rejection("schema", f"{kind} payload violates contract v1: {detail}")
    if payload.device_id != topic_device:
        return Rejection(
            "device_mismatch",
            f"payload device_id {payload.device_id!r} differs from topic device {topic_device!r}",
        )
    assert isinstance(payload, PunchV1 | HeartbeatV1 | StatusV1)
    return payload


def check_device(payload: Payload, directory: DeviceDirectory) -> DeviceInfo | Rejection:
    info = directory.get(payload.device_id)
    if info is None:
        return Rejection("unknown_device", f"device {payload.device_id!r} is not registered")
    if not info.enabled:
        return Rejection("disabled_device", f"device {payload.device_id!r} is disabled")
    return info


def process_batch(
    engine: Engine,
    messages: list[Message],
    directory: DeviceDirectory,
    max_clock_skew: timedelta,
) -> BatchOutcome:
    """Store a batch in one transaction; returns after the commit."""
    outcome = BatchOutcome()
    punch_rows: list[dict[str, Any]] = []
    dead_rows: list[dict[str, Any]] = []
    device_changes: dict[str, dict[str, Any]] = {}

    def reject(message: Message, rejection: Rejection, device_id: str | None) -> None:
        dead_rows.append(_dead_letter_row(message, rejection, device_id))
        outcome.refuse(message, rejection.code)
        outcome.dead_by_code[rejection.code] = outcome.dead_by_code.get(rejection.code, 0) + 1

    for message in messages:
        payload = decode(message)
        if isinstance(payload, Rejection):
            parsed = parse_topic(message.topic)
            reject(message, payload, parsed[0] if parsed else None)
            continue
        info = check_device(payload, directory)
        if isinstance(info, Rejection):
            reject(message, info, payload.device_id)
            continue
        changes = device_changes.setdefault(payload.device_id, {})
        if not message.retain:
            seen = changes.get("last_seen_at")
            changes["last_seen_at"] = (
                max(seen, message.received_at) if seen else message.received_at
            )

        if isinstance(payload, PunchV1):
            # A sender that knows the offset in force when the punch was made (a bridge that
            # watched the terminal's clock) says so; otherwise the last measurement applies.
            offset = (
                payload.clock_offset_s
                if payload.clock_offset_s is not None
                else info.clock_offset_s or 0.0
            )
            if abs(offset) < MIN_OFFSET_CORRECTION_S:
                offset = 0.0
            punched_at = payload.ts - timedelta(seconds=offset)
            if punched_at > message.received_at + max_clock_skew:
                reject(
                    message,
                    Rejection(
                        "future_time",
                        f"punch time {punched_at.isoformat()} is more than "
                        f"{int(max_clock_skew.total_seconds())} s after its receipt "
                        f"{message.received_at.isoformat()}; quarantined",
                    ),
                    payload.device_id,
                )
                continue
            punch_rows.append(
                {
                    "device_id": payload.device_id,
                    "event_id": payload.event_id,
                    "credential_kind": payload.credential_kind,
                    "credential_value": payload.credential_value,
                    "device_time": payload.ts,
                    "clock_offset_s": offset,
                    "punched_at": punched_at,
                    "received_at": message.received_at,
                    "direction": payload.direction,
                    "verify_mode": payload.verify_mode,
                    "raw": bytes(message.payload).decode("utf-8"),
                }
            )
        elif isinstance(payload, HeartbeatV1):
            outcome.heartbeats += 1
            offset_s = (payload.clock - message.received_at).total_seconds()
            previous = directory.get(payload.device_id)
            if (
                previous is not None
                and previous.clock_offset_s is not None
                and abs(offset_s - previous.clock_offset_s) > CLOCK_JUMP_WARNING_S
            ):
                log.warning(
                    "Đồng hồ của thiết bị %s nhảy %+.0f giây "
                    "(lệch %+.0f giây, trước đó %+.0f giây)",
                    payload.device_id,
                    offset_s - previous.clock_offset_s,
                    offset_s,
                    previous.clock_offset_s,
                )
            changes.update(clock_offset_s=offset_s, backlog=payload.backlog)
            # Punches later in this very batch are corrected with the new measurement.
            directory.set_offset(payload.device_id, offset_s)
            if payload.sent_up_to is not None:
                changes["sent_up_to"] = payload.sent_up_to
        else:
            outcome.statuses += 1
            changes.update(state=payload.state, state_at=message.received_at)

    with db_session(engine) as db:
        inserted = insert_punches(db, _unique_events(punch_rows))
        outcome.unmatched = record_unmatched(db, inserted)
        # The rules runner recomputes the (person, date) keys these punches touch.
        outcome.keys = enqueue_for_punches(db, inserted, "punch")
        insert_dead_letters(db, dead_rows)
        update_devices(db, device_changes.items())
    outcome.stored = len(inserted)
    for row in punch_rows:  # inserted now or before: either way stored
        outcome.receipts.setdefault(row["device_id"], Receipt()).stored.append(row["event_id"])
    outcome.duplicates = len(punch_rows) - len(inserted)
    outcome.dead_letters = len(dead_rows)
    return outcome


def _unique_events(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop repeats of one event inside a batch; the unique key absorbs the rest."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in rows:
        key = (row["device_id"], row["event_id"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def store_failure(engine: Engine, message: Message, error: str) -> BatchOutcome:
    """Keep a message the database refused as a dead letter, so it is neither lost nor retried."""
    parsed = parse_topic(message.topic)
    rejection = Rejection("store_error", f"database refused the message: {error[:500]}")
    with db_session(engine) as db:
        insert_dead_letters(
            db, [_dead_letter_row(message, rejection, parsed[0] if parsed else None)]
        )
    outcome = BatchOutcome(dead_letters=1, dead_by_code={"store_error": 1})
    outcome.refuse(message, "store_error")
    return outcome


def _dead_letter_row(
    message: Message, rejection: Rejection, device_id: str | None
) -> dict[str, Any]:
    return {
        "topic": message.topic[:512],
        "payload": bytes(message.payload),
        "device_id": device_id,
        "reason_code": rejection.code,
        "reason": rejection.reason,
        "received_at": message.received_at,
    }
