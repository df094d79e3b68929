"""From a batch of MQTT messages to committed rows: decode, check the device, store.

The MQTT worker hands batches here; the function returns only after the commit, so the
caller may then acknowledge every message of the batch (ack after commit).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import InterfaceError, OperationalError

from ingest.contract import PAYLOAD_MODELS, HeartbeatV1, Payload, PunchV1, StatusV1, parse_topic
from kycuong.replay import explain
from kycuong.settings import Settings, get_settings
from rules.zones import zone
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
    except (ValueError, AttributeError, RecursionError):  # deeply nested arrays: RecursionError
        return None
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 128:
        return None
    return parsed[0], event_id


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    enabled: bool
    clock_offset_s: float | None
    registered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What ingest accepts as plausible, and how it keeps what it refuses."""

    max_clock_skew: timedelta = timedelta(minutes=5)
    max_backlog_age: timedelta = timedelta(days=62)
    dead_letter_device_cap: int = 200
    dead_letter_payload_bytes: int = 65_536

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_clock_skew=timedelta(seconds=settings.max_clock_skew_s),
            max_backlog_age=timedelta(days=settings.max_backlog_age_days),
            dead_letter_device_cap=settings.dead_letter_device_cap,
            dead_letter_payload_bytes=settings.dead_letter_payload_bytes,
        )

    @classmethod
    def configured(cls) -> Limits:
        """The limits of this process's settings (``KC_MAX_BACKLOG_AGE_DAYS`` …)."""
        return cls.from_settings(get_settings())


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
            rows = db.execute(
                select(Device.id, Device.enabled, Device.clock_offset_s, Device.created_at)
            ).all()
        self._devices = {
            row.id: DeviceInfo(row.enabled, row.clock_offset_s, row.created_at) for row in rows
        }
        self._loaded_at = time.monotonic()

    def set_offset(self, device_id: str, offset_s: float) -> None:
        info = self._devices.get(device_id)
        if info is not None:
            self._devices[device_id] = DeviceInfo(info.enabled, offset_s, info.registered_at)


def decode(message: Message) -> Payload | Rejection:
    """Parse and validate one message against the contract; never raises."""
    parsed = parse_topic(message.topic)
    if parsed is None:
        return Rejection(
            "unknown_topic", f"chủ đề {message.topic!r} không thuộc hợp đồng dữ liệu v1"
        )
    topic_device, kind = parsed
    try:
        payload = PAYLOAD_MODELS[kind].model_validate_json(message.payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            at = re.search(r"line (\d+) column (\d+)", str(errors[0]["msg"]))
            where = f" (lỗi ở dòng {at[1]}, cột {at[2]})" if at else ""
            return Rejection("malformed_json", f"dữ liệu không phải JSON hợp lệ{where}")
        # pydantic's English ("Field required") in Vietnamese, naming what is accepted.
        detail = "; ".join(explain(e, PAYLOAD_MODELS[kind]) for e in errors[:5])
        return Rejection("schema", f"bản tin {kind} sai cấu trúc hợp đồng v1: {detail}")
    if payload.device_id != topic_device:
        return Rejection(
            "device_mismatch",
            f"mã thiết bị trong bản tin {payload.device_id!r} "
            f"khác mã trong chủ đề {topic_device!r}",
        )
    assert isinstance(payload, PunchV1 | HeartbeatV1 | StatusV1)
    return payload


def check_device(payload: Payload, directory: DeviceDirectory) -> DeviceInfo | Rejection:
    info = directory.get(payload.device_id)
    if info is None:
        return Rejection("unknown_device", f"thiết bị {payload.device_id!r} chưa được đăng ký")
    if not info.enabled:
        return Rejection("disabled_device", f"thiết bị {payload.device_id!r} đã bị khóa")
    return info


@dataclass(slots=True)
class _Prepared:
    """One message after validation: a punch row, a dead letter, or device changes."""

    message: Message
    punch: dict[str, Any] | None = None
    dead: dict[str, Any] | None = None
    device_id: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    kind: str = ""


def process_batch(
    engine: Engine,
    messages: list[Message],
    directory: DeviceDirectory,
    max_clock_skew: timedelta | None = None,
    *,
    limits: Limits | None = None,
) -> BatchOutcome:
    """Store a batch; returns after the commit, with every message stored or dead-lettered.

    If the database refuses the batch, it is split until the refused messages are alone;
    those become dead letters with the database's reason and the rest is stored. Only an
    unreachable database (``OperationalError``, ``InterfaceError``) is raised, for a retry.
    """
    limits = limits or Limits.configured()
    if max_clock_skew is not None:
        limits = replace(limits, max_clock_skew=max_clock_skew)
    outcome = BatchOutcome()
    prepared = []
    for message in messages:
        try:
            item = _prepare(message, directory, limits)
        except Exception as exc:  # a message must never stop ingest; keep it with the reason
            log.exception("message on %s could not be checked", message.topic)
            item = _Prepared(
                message,
                dead=_dead_letter_row(
                    message,
                    Rejection("invalid", f"không kiểm tra được bản tin: {exc!r}"[:500]),
                    None,
                    limits,
                ),
            )
        prepared.append(item)
        if item.dead is not None:
            code = item.dead["reason_code"]
            outcome.dead_by_code[code] = outcome.dead_by_code.get(code, 0) + 1
        elif item.kind == "status":
            outcome.statuses += 1
        elif item.kind == "heartbeat":
            outcome.heartbeats += 1
    outcome.merge(_store_isolating(engine, prepared, limits))
    return outcome


def _prepare(message: Message, directory: DeviceDirectory, limits: Limits) -> _Prepared:
    payload = decode(message)
    if isinstance(payload, Rejection):
        parsed = parse_topic(message.topic)
        device_id = parsed[0] if parsed else None
        return _Prepared(message, dead=_dead_letter_row(message, payload, device_id, limits))
    info = check_device(payload, directory)
    if isinstance(info, Rejection):
        return _Prepared(message, dead=_dead_letter_row(message, info, payload.device_id, limits))
    device_id = payload.device_id

    def quarantine(code: str, reason: str) -> _Prepared:
        rejection = Rejection(code, reason)
        return _Prepared(message, dead=_dead_letter_row(message, rejection, device_id, limits))

    changes: dict[str, Any] = {}
    if not message.retain:
        changes["last_seen_at"] = message.received_at
    kind = "punch" if isinstance(payload, PunchV1) else "heartbeat"
    if isinstance(payload, StatusV1):
        kind = "status"
    item = _Prepared(message, device_id=device_id, changes=changes, kind=kind)
    received = message.received_at
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
        try:
            punched_at = payload.ts - timedelta(seconds=offset)
            problem = _implausible(punched_at, received, info, limits)
        except OverflowError:
            return quarantine(
                "too_old", f"giờ chấm công {payload.ts} nằm ngoài phạm vi; đã cách ly"
            )
        if problem is not None:
            return quarantine(*problem)
        item.punch = {
            "device_id": device_id,
            "event_id": payload.event_id,
            "credential_kind": payload.credential_kind,
            "credential_value": payload.credential_value,
            "device_time": payload.ts,
            "clock_offset_s": offset,
            "punched_at": punched_at,
            "received_at": received,
            "direction": payload.direction,
            "verify_mode": payload.verify_mode,
            "raw": bytes(message.payload).decode("utf-8"),
        }
    elif isinstance(payload, HeartbeatV1):
        offset_s = (payload.clock - received).total_seconds()
        # Told even when the clock is not believed below (a reader reset to 2000 after a power
        # cut): the operator sets it right; the last believed offset stays in force.
        previous = info.clock_offset_s
        if previous is not None and abs(offset_s - previous) > CLOCK_JUMP_WARNING_S:
            log.warning(
                "Đồng hồ của thiết bị %s nhảy %+.0f giây (lệch %+.0f giây, trước đó %+.0f giây)",
                device_id,
                offset_s - previous,
                offset_s,
                previous,
            )
        # A clock off by more than the backlog window corrects nothing: its reader was reset
        # or is lying. The heartbeat is kept as a dead letter, the last offset stays.
        if abs(offset_s) > limits.max_backlog_age.total_seconds():
            return quarantine(
                "implausible_clock",
                f"đồng hồ thiết bị {_local(payload.clock)} lệch {offset_s / 86400:+.0f} ngày "
                f"so với lúc nhận {_local(received)}; đã cách ly",
            )
        if payload.sent_up_to is not None and (
            payload.sent_up_to > payload.clock + limits.max_clock_skew
        ):
            return quarantine(
                "implausible_clock",
                f"mốc đã gửi (sent_up_to) {_local(payload.sent_up_to)} sau đồng hồ của chính "
                f"thiết bị {_local(payload.clock)}; đã cách ly",
            )
        changes.update(clock_offset_s=offset_s, backlog=payload.backlog)
        # Punches later in this very batch are corrected with the new measurement.
        directory.set_offset(device_id, offset_s)
        if payload.sent_up_to is not None:
            changes["sent_up_to"] = payload.sent_up_to
    else:
        changes.update(state=payload.state, state_at=received)
    return item


def _local(instant: datetime) -> str:
    """An instant as people read it in a dead letter's reason: the local date and time."""
    try:
        return instant.astimezone(zone()).strftime("%d/%m/%Y %H:%M:%S")
    except (OverflowError, ValueError):
        return instant.isoformat()


def _implausible(
    punched_at: datetime, received: datetime, info: DeviceInfo, limits: Limits
) -> tuple[str, str] | None:
    """Why a punch time cannot be true (quarantined, kept as a dead letter), or None."""
    if punched_at > received + limits.max_clock_skew:
        return (
            "future_time",
            f"giờ chấm công {_local(punched_at)} muộn hơn lúc nhận {_local(received)} quá "
            f"{int(limits.max_clock_skew.total_seconds())} giây; đã cách ly",
        )
    if punched_at < received - limits.max_backlog_age:
        return (
            "too_old",
            f"giờ chấm công {_local(punched_at)} sớm hơn lúc nhận {_local(received)} quá "
            f"{limits.max_backlog_age.days} ngày; đã cách ly",
        )
    registered = info.registered_at
    if registered is not None and punched_at < registered - limits.max_clock_skew:
        return (
            "before_registration",
            f"giờ chấm công {_local(punched_at)} trước khi thiết bị được đăng ký "
            f"({_local(registered)}); đã cách ly",
        )
    return None


def _store_isolating(engine: Engine, items: list[_Prepared], limits: Limits) -> BatchOutcome:
    """Store items in one transaction; if refused, split until the offenders are alone."""
    try:
        return _store(engine, items, limits)
    except (OperationalError, InterfaceError):
        raise  # the database is unreachable: the caller retries the whole batch
    except Exception as exc:
        if len(items) > 1:
            middle = len(items) // 2
            outcome = _store_isolating(engine, items[:middle], limits)
            outcome.merge(_store_isolating(engine, items[middle:], limits))
            return outcome
        item = items[0]
        reason = str(getattr(exc, "orig", None) or exc)
        log.warning("message on %s refused by the database: %s", item.message.topic, reason)
        return store_failure(engine, item.message, reason, limits)


def _store(engine: Engine, items: list[_Prepared], limits: Limits) -> BatchOutcome:
    outcome = BatchOutcome()
    punch_rows = [item.punch for item in items if item.punch is not None]
    dead_rows = [item.dead for item in items if item.dead is not None]
    device_changes: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.device_id is None or item.dead is not None:
            continue
        changes = device_changes.setdefault(item.device_id, {})
        seen = changes.get("last_seen_at")
        changes.update(item.changes)
        if seen is not None and "last_seen_at" in item.changes:
            changes["last_seen_at"] = max(seen, item.changes["last_seen_at"])
        elif seen is not None:
            changes["last_seen_at"] = seen
    with db_session(engine) as db:
        unique = _unique_events(punch_rows)
        inserted = insert_punches(db, unique)
        between = _time_window(unique)
        outcome.unmatched = record_unmatched(db, inserted, between)
        # The rules runner recomputes the (person, date) keys these punches touch.
        outcome.keys = enqueue_for_punches(db, inserted, "punch", between)
        insert_dead_letters(db, dead_rows, per_device_cap=limits.dead_letter_device_cap)
        update_devices(db, ((d, c) for d, c in device_changes.items() if c))
    outcome.stored = len(inserted)
    for item in items:  # committed as dead letters: the device stops resending them
        if item.dead is not None:
            outcome.refuse(item.message, item.dead["reason_code"])
    for row in punch_rows:  # inserted now or before: either way stored
        outcome.receipts.setdefault(row["device_id"], Receipt()).stored.append(row["event_id"])
    outcome.duplicates = len(punch_rows) - len(inserted)
    outcome.dead_letters = len(dead_rows)
    return outcome


def _time_window(rows: list[dict[str, Any]]) -> tuple[datetime, datetime] | None:
    """The earliest and latest ``punched_at`` of punch rows (None for none)."""
    if not rows:
        return None
    instants = [row["punched_at"] for row in rows]
    return min(instants), max(instants)


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


def store_failure(
    engine: Engine, message: Message, error: str, limits: Limits | None = None
) -> BatchOutcome:
    """Keep a message the database refused as a dead letter, so it is neither lost nor retried."""
    limits = limits or Limits.configured()
    parsed = parse_topic(message.topic)
    rejection = Rejection("store_error", f"cơ sở dữ liệu từ chối bản tin: {error[:500]}")
    row = _dead_letter_row(message, rejection, parsed[0] if parsed else None, limits)
    with db_session(engine) as db:
        insert_dead_letters(db, [row], per_device_cap=limits.dead_letter_device_cap)
    outcome = BatchOutcome(dead_letters=1, dead_by_code={"store_error": 1})
    outcome.refuse(message, "store_error")
    return outcome


def fingerprint(topic: str, payload: bytes) -> str:
    """The identity of a message: a redelivered or retained copy has the same one."""
    return hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).hexdigest()


def _clean(text: str, limit: int) -> str:
    """Text a database column can hold: no NUL, no lone surrogate, bounded."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")[:limit]


def _dead_letter_row(
    message: Message, rejection: Rejection, device_id: str | None, limits: Limits
) -> dict[str, Any]:
    payload = bytes(message.payload)
    return {
        "topic": _clean(message.topic, 512),
        "payload": payload[: limits.dead_letter_payload_bytes],
        "payload_size": len(payload),
        "fingerprint": fingerprint(message.topic, payload),
        "device_id": device_id,
        "reason_code": rejection.code,
        "reason": _clean(rejection.reason, 4000),
        "received_at": message.received_at,
    }
