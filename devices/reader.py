"""A badge reader's MQTT side (đầu đọc thẻ): publishes punches, heartbeats and its status.

Used by the simulator and the terminal bridges; a real reader's firmware does the same.
A broker's PUBACK is not delivery (a broker crash loses what it acknowledged since its last
snapshot), so every punch stays in an outbox (a SQLite file when given, surviving the
reader's own restarts) until the server's receipt names it (contract v1.1), and is resent
after a timeout; the server's unique key makes a resend harmless. Given several broker
addresses (``"nats-1:1883,nats-2:1883"``), it moves to the next when its node is lost.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from pydantic import ValidationError

from ingest.contract import ReceiptV1, format_ts, receipt_topic, topic_for
from ingest.failover import BrokerAddress, FailoverClient, asks_for_tls, brokers

log = logging.getLogger(__name__)

ReceiptHook = Callable[[ReceiptV1], None]


@dataclass(slots=True)
class _Entry:
    payload: bytes
    due: float  # monotonic time of the next (re)send
    attempts: int = 0


class Outbox:
    """Punches sent but not yet confirmed by a receipt; kept in SQLite when given a path."""

    def __init__(self, path: Path | None = None) -> None:
        self._entries: dict[str, _Entry] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (event_id TEXT PRIMARY KEY, payload BLOB)"
            )
            for event_id, payload in self._db.execute("SELECT event_id, payload FROM outbox"):
                self._entries[event_id] = _Entry(bytes(payload), due=0.0)

    def add(self, event_id: str, payload: bytes, due: float) -> bool:
        """Keep a punch; False when it is already kept (a terminal's retry of it)."""
        if event_id in self._entries:
            return False
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO outbox (event_id, payload) VALUES (?, ?)",
                (event_id, payload),
            )
        self._entries[event_id] = _Entry(payload, due)
        return True

    def remove(self, event_ids: list[str]) -> int:
        gone = [e for e in event_ids if self._entries.pop(e, None) is not None]
        if gone and self._db is not None:
            self._db.executemany("DELETE FROM outbox WHERE event_id = ?", [(e,) for e in gone])
        return len(gone)

    def due(self, now: float, resend_after: float) -> list[tuple[str, bytes]]:
        """The punches whose receipt is overdue; each waits longer before its next resend."""
        ready = []
        for event_id, entry in self._entries.items():
            if entry.due <= now:
                ready.append((event_id, entry.payload))
                entry.attempts += 1
                entry.due = now + resend_after * min(2**entry.attempts, 8)
        return ready

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def broker_spec(broker: dict[str, object]) -> str:
    """A bridge's ``[broker]`` table as one address spec: ``hosts = ["nats-1:1883", …]`` (the
    nodes of a cluster, tried in turn) or ``host = "…"``; refused early when unreadable."""
    if "hosts" in broker and "host" in broker:
        raise ValueError("[broker] có cả host và hosts: chỉ giữ một trong hai")
    if "hosts" in broker and not broker["hosts"]:
        raise ValueError(
            '[broker] hosts trống: ghi ít nhất một địa chỉ, ví dụ hosts = ["nats-1:1883"]'
        )
    hosts = broker.get("hosts") or broker.get("host") or "127.0.0.1"
    if isinstance(hosts, list):
        hosts = ",".join(str(h) for h in hosts)
    spec = str(hosts)
    brokers(spec, int(str(broker.get("port", 1883))))
    if asks_for_tls(spec) and not broker.get("tls_ca"):
        raise ValueError(
            "địa chỉ mqtts:// cần chứng chỉ CA của máy chủ MQTT: đặt tls_ca trong [broker]"
        )
    return spec


class Reader:
    """One device's connection to the broker, with its outbox of unconfirmed punches."""

    def __init__(
        self,
        device_id: str,
        host: str | Sequence[BrokerAddress],
        port: int,
        *,
        password: str | None = None,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
        outbox: Path | None = None,
        resend_after: float = 30.0,
        on_receipt: ReceiptHook | None = None,
        tls_ca: str | None = None,
    ) -> None:
        self.device_id = device_id
        self.addresses = brokers(host, port)  # ``host`` may name several, comma-separated
        self.host, self.port = self.addresses[0].host, self.addresses[0].port
        self.resend_after = resend_after
        self.resent = 0
        self.refused: dict[str, str] = {}
        self.state = "online"  # what a (re)connection announces; a bridge sets its terminal's
        self._on_receipt = on_receipt
        self._outbox = Outbox(outbox)
        self._confirmed = threading.Condition()
        self._connected = threading.Event()
        self._closing = threading.Event()
        self._refused_connection: str | None = None
        self._pending: set[int] = set()
        self._early_acks: set[int] = set()
        self._acked = threading.Condition()
        self.client = FailoverClient(
            self.addresses,
            CallbackAPIVersion.VERSION2,
            client_id=device_id,  # the broker binds a reader's client id to its device id
            protocol=protocol,
            clean_session=False if protocol != MQTTProtocolVersion.MQTTv5 else None,
        )
        # A reader may hold a long backlog; paho's default in-flight limit of 20 is fine for
        # a real device but slows a simulator that replays a whole morning.
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        if password is not None:
            self.client.username_pw_set(device_id, password)
        if tls_ca:  # the broker's TLS listener (8883), checked against the installation's CA
            self.client.tls_set(ca_certs=tls_ca)
        self.client.will_set(
            topic_for(device_id, "status"), self._status("offline"), qos=1, retain=True
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self._resender = threading.Thread(
            target=self._resend_loop, name=f"resend-{device_id}", daemon=True
        )

    def _status(self, state: str) -> str:
        return json.dumps({"v": 1, "device_id": self.device_id, "state": state})

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            self._refused_connection = str(reason)
            self._connected.set()
            return
        # Accepted (by this node, or by the next after another refused): usable again.
        self._refused_connection = None
        # Every time: a broker that crashed has forgotten the subscription with the session.
        client.subscribe(receipt_topic(self.device_id), qos=1)
        self.publish_raw("status", self._status(self.state), retain=True)
        self._connected.set()

    def set_state(self, state: str) -> None:
        """Announce online/offline (retained), now and on every reconnection."""
        self.state = state
        self.publish_raw("status", self._status(state), retain=True)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            receipt = ReceiptV1.model_validate_json(msg.payload)
        except ValidationError:
            log.warning("%s: unreadable receipt on %s", self.device_id, msg.topic)
            return
        with self._confirmed:
            self._outbox.remove(receipt.stored + list(receipt.refused))
            self.refused.update(receipt.refused)
            self._confirmed.notify_all()
        if receipt.refused:
            log.warning("%s: the server kept as dead letters %s", self.device_id, receipt.refused)
        if self._on_receipt is not None:
            self._on_receipt(receipt)

    def _on_publish(self, _c: object, _u: object, mid: int, _reason: object, _p: object) -> None:
        with self._acked:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._early_acks.add(mid)  # acknowledged before publish() returned
            if not self._pending:
                self._acked.notify_all()

    def _on_disconnect(self, *_args: object) -> None:
        self._connected.clear()

    def _resend_loop(self) -> None:
        while not self._closing.wait(min(1.0, self.resend_after / 4)):
            if not self._connected.is_set() or self._refused_connection is not None:
                continue  # paho sends what it holds on reconnect; resend only over a live link
            with self._confirmed:
                overdue = self._outbox.due(time.monotonic(), self.resend_after)
            for _event_id, payload in overdue:
                self.publish_raw("punch", payload)
            if overdue:
                self.resent += len(overdue)
                log.info("%s: resent %d punches without a receipt", self.device_id, len(overdue))

    def connect(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """Connect (in the background when ``wait`` is False: the outbox holds punches)."""
        self.client.start(keepalive=30)
        if not self._resender.is_alive():
            self._resender.start()
        if not wait:
            return
        if not self._connected.wait(timeout):
            why = "; ".join(f"{a}: {r}" for a, r in self.client.failures.items())
            raise ConnectionError(
                f"reader {self.device_id} could not reach "
                + ", ".join(str(a) for a in self.addresses)
                + (f" ({why})" if why else "")
            )
        if self._refused_connection is not None:
            self.client.loop_stop()
            raise ConnectionRefusedError(
                f"broker refused reader {self.device_id}: {self._refused_connection}"
            )

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout) and self._refused_connection is None

    @property
    def connected(self) -> bool:
        return self._connected.is_set() and self._refused_connection is None

    def punch(
        self,
        event_id: str,
        credential_value: str,
        ts: datetime,
        *,
        direction: str = "unknown",
        credential_kind: str = "card",
        verify_mode: str = "card",
        extra: dict[str, object] | None = None,
    ) -> bool:
        """Publish a punch and keep it until its receipt; False if it was already kept."""
        body: dict[str, object] = {
            "v": 1,
            "event_id": event_id,
            "device_id": self.device_id,
            "credential_kind": credential_kind,
            "credential_value": credential_value,
            "ts": format_ts(ts),
            "direction": direction,
            "verify_mode": verify_mode,
        }
        if extra:
            body.update(extra)
        payload = json.dumps(body).encode()
        with self._confirmed:
            fresh = self._outbox.add(event_id, payload, time.monotonic() + self.resend_after)
        if fresh:
            self.publish_raw("punch", payload)
        return fresh

    def heartbeat(self, clock: datetime, sent_up_to: datetime | None, backlog: int = 0) -> None:
        body = {
            "v": 1,
            "device_id": self.device_id,
            "clock": format_ts(clock),
            "sent_up_to": format_ts(sent_up_to) if sent_up_to else None,
            "backlog": backlog,
        }
        # QoS 0: a heartbeat that waited in a queue would mismeasure the clock.
        self.client.publish(topic_for(self.device_id, "heartbeat"), json.dumps(body), qos=0)

    def publish_raw(
        self, kind: str, payload: bytes | str, qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        # Not under our lock: paho calls on_publish while holding its own message lock.
        info = self.client.publish(topic_for(self.device_id, kind), payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
        if qos > 0:
            with self._acked:
                if info.mid in self._early_acks:
                    self._early_acks.discard(info.mid)
                else:
                    self._pending.add(info.mid)
        return info

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until the broker has acknowledged every message published so far.

        Messages published while the link was down are kept by paho and sent on reconnect
        (their info says NO_CONN), so count PUBACKs rather than trust ``wait_for_publish``.
        """
        deadline = time.monotonic() + timeout
        with self._acked:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"reader {self.device_id}: {len(self._pending)} messages unacknowledged"
                    )
                self._acked.wait(min(remaining, 0.5))

    def wait_receipts(self, timeout: float = 60.0) -> None:
        """Wait until the server has confirmed every punch in the outbox."""
        deadline = time.monotonic() + timeout
        with self._confirmed:
            while len(self._outbox):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"reader {self.device_id}: {len(self._outbox)} punches without a receipt"
                    )
                self._confirmed.wait(min(remaining, 0.5))

    def wait_receipt(self, event_id: str, timeout: float) -> bool:
        """Wait for one punch's receipt; True once the server has it (stored or refused)."""
        deadline = time.monotonic() + timeout
        with self._confirmed:
            while event_id in self._outbox:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._confirmed.wait(min(remaining, 0.5))
        return True

    def unconfirmed(self, event_id: str | None = None) -> int:
        """How many punches wait for a receipt (1/0 for one event id)."""
        with self._confirmed:
            if event_id is not None:
                return int(event_id in self._outbox)
            return len(self._outbox)

    @property
    def pending(self) -> int:
        with self._acked:
            return len(self._pending)

    def close(self) -> None:
        """Go offline; unconfirmed punches stay in the outbox file for the next start."""
        self._closing.set()
        if self.connected:
            self.publish_raw("status", self._status("offline"), retain=True)
            try:
                self.drain(timeout=10)
            except TimeoutError:
                log.warning("%s: closing with messages unacknowledged", self.device_id)
        self.client.disconnect()
        self.client.loop_stop()
        with self._confirmed:
            self._outbox.close()
