"""The MQTT contract, version 1: topics and payloads a reader publishes (see docs/mqtt-contract.md).

Everything a reader sends is validated here, at the edge; the rest of ingest trusts it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

TOPIC_ROOT = "kc/v1"
# Receipts live outside TOPIC_ROOT so the ingest subscription (kc/v1/+/+) never sees them.
RECEIPT_ROOT = "kc/receipts"
DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MESSAGE_KINDS = ("punch", "heartbeat", "status")

DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
CredentialValue = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
]
CredentialKind = Literal["card", "fingerprint", "face", "pin", "qr"]
Direction = Literal["in", "out", "unknown"]

# The largest backlog count a database integer column holds on every engine.
MAX_BACKLOG = 2**31 - 1


def _printable(value: str) -> str:
    """Refuse control characters (NUL among them) and lone surrogates: no store can hold them."""
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise ValueError(f"control character U+{ord(char):04X} is not allowed")
    return value


PrintableText = Annotated[str, AfterValidator(_printable)]


def _representable(value: datetime) -> datetime:
    """Refuse an instant that has no UTC value (year 1 at +14:00, year 9999 at -14:00)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("instant out of range") from None
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_representable)]

_TOPIC_RE = re.compile(r"^kc/v1/([^/]+)/(punch|heartbeat|status)$")
_DEVICE_RE = re.compile(DEVICE_ID_PATTERN)


class _Payload(BaseModel):
    # Unknown fields are ignored so a reader may send more than v1 asks; the raw payload
    # is stored with the punch anyway.
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1]
    device_id: DeviceId


class PunchV1(_Payload):
    """One punch (lượt chấm công): a credential presented at a reader."""

    event_id: EventId
    credential_kind: CredentialKind
    credential_value: CredentialValue
    ts: Instant = Field(description="device time, ISO 8601 with offset")
    direction: Direction = "unknown"
    verify_mode: Annotated[PrintableText, StringConstraints(max_length=16)] | None = None
    clock_offset_s: float | None = Field(
        default=None,
        ge=-(10**10),
        le=10**10,
        description="v1.1: the device clock's offset when the punch was made, if the sender knows",
    )


class HeartbeatV1(_Payload):
    """A reader's periodic sign of life: its clock and how far it has sent its punches."""

    clock: Instant
    sent_up_to: Instant | None = Field(
        default=None, description="every punch up to this instant has been published"
    )
    backlog: int = Field(default=0, ge=0, le=MAX_BACKLOG)


class StatusV1(_Payload):
    """Retained online/offline state; the reader sets "offline" as its last will."""

    state: Literal["online", "offline"]


class ReceiptV1(_Payload):
    """v1.1, server to device: which of its punches are stored (or kept as dead letters).

    A device keeps each punch until an event id comes back in ``stored`` or ``refused``.
    """

    stored: list[str] = Field(default_factory=list)
    refused: dict[str, str] = Field(
        default_factory=dict, description="event id -> dead-letter reason code"
    )


Payload = PunchV1 | HeartbeatV1 | StatusV1
PAYLOAD_MODELS: dict[str, type[_Payload]] = {
    "punch": PunchV1,
    "heartbeat": HeartbeatV1,
    "status": StatusV1,
}


def topic_for(device_id: str, kind: str) -> str:
    """The topic a device publishes ``kind`` messages on."""
    return f"{TOPIC_ROOT}/{device_id}/{kind}"


def receipt_topic(device_id: str) -> str:
    """Where the server tells a device which of its punches are stored (contract v1.1)."""
    return f"{RECEIPT_ROOT}/{device_id}"


def subscription(shared_group: str | None = None) -> str:
    """The ingest worker's subscription, optionally shared between workers (MQTT 5)."""
    topic = f"{TOPIC_ROOT}/+/+"
    return f"$share/{shared_group}/{topic}" if shared_group else topic


def parse_topic(topic: str) -> tuple[str, str] | None:
    """Split a topic into (device id, message kind), or None when it is not ours."""
    match = _TOPIC_RE.match(topic)
    if match is None or not _DEVICE_RE.match(match.group(1)):
        return None
    return match.group(1), match.group(2)


def format_ts(value: datetime) -> str:
    """ISO 8601 with offset, as the contract wants timestamps."""
    return value.isoformat(timespec="milliseconds")
