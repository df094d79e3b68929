"""The ingest worker: a paho-mqtt 2.x subscriber that commits batches, then acknowledges.

The network thread only queues messages; a writer thread commits them in batches (on
size or time) and acknowledges each message after its batch is committed. The broker
keeps unacknowledged messages in the worker's persistent session, so a crash loses
nothing and a redelivery is absorbed by the punches' unique key. Given several broker
addresses (the nodes of a cluster), it moves to the next when its node is lost.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from ingest.contract import receipt_topic, subscription
from ingest.failover import FailoverClient
from ingest.pipeline import (
    BatchOutcome,
    DeviceDirectory,
    Limits,
    Message,
    process_batch,
)
from kycuong.metrics import INGEST_COMMIT_SECONDS, INGEST_MESSAGES
from kycuong.settings import Settings

log = logging.getLogger(__name__)

CommitHook = Callable[[list[Message], BatchOutcome], None]


class IngestStats:
    """Counters since start, read by the periodic log line (and later by /metrics)."""

    def __init__(self) -> None:
        self.received = 0
        self.stored = 0
        self.duplicates = 0
        self.unmatched = 0
        self.dead_letters = 0
        self.batches = 0
        self.commit_errors = 0
        self.lost = 0
        self.last_commit_ms = 0.0


class IngestWorker:
    """Subscribe, batch, commit, ack. ``start()`` returns; ``stop()`` flushes and disconnects."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        on_commit: CommitHook | None = None,
    ) -> None:
        if settings.ingest_batch_size > settings.ingest_receive_maximum:
            raise ValueError("ingest batch size must not exceed the receive maximum")
        self.settings = settings
        self.engine = engine
        self.directory = DeviceDirectory(engine)
        self.limits = Limits.from_settings(settings)
        self.stats = IngestStats()
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._generation = 0
        self._last_activity = time.monotonic()
        self._in_batch = False
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._connected = threading.Event()
        self._subscribe_mid: int | None = None
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._client = self._make_client()

    # -- MQTT side (network thread) -------------------------------------------------

    def _make_client(self) -> FailoverClient:
        s = self.settings
        v5 = s.effective_protocol == "5"
        client = FailoverClient(
            s.mqtt_brokers,
            CallbackAPIVersion.VERSION2,
            # "{hostname}" lets identical replicas keep distinct persistent sessions.
            client_id=s.mqtt_client_id.format(hostname=socket.gethostname()),
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        # paho's own outgoing queue is unrelated to ours; the broker's window is what matters.
        client.max_inflight_messages_set(s.ingest_receive_maximum)
        if s.mqtt_username:
            client.username_pw_set(s.mqtt_username, s.mqtt_password)
        if s.mqtt_tls_ca:
            client.tls_set(ca_certs=s.mqtt_tls_ca)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties | None:
        if self.settings.effective_protocol != "5":
            return None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        # Without a session expiry, MQTT 5 keeps no session: queued punches would be lost.
        props.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
        props.ReceiveMaximum = self.settings.ingest_receive_maximum
        return props

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        self._generation += 1
        topic = subscription(self.settings.mqtt_shared_group)
        # Connected means subscribed: until the SUBACK, a new session receives nothing, so a
        # caller that publishes right after wait_connected() would lose its first messages.
        _, self._subscribe_mid = client.subscribe(topic, qos=1)
        log.info(
            "connected to %s:%s (session present: %s), subscribed to %s",
            client.host,
            client.port,
            flags.session_present,
            topic,
        )

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: Any, _props: Any
    ) -> None:
        if mid != self._subscribe_mid:
            return
        if any(getattr(r, "is_failure", False) for r in reasons):
            log.error("the broker refused the subscription: %s", reasons)
            return
        self._connected.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from broker (%s); reconnecting with backoff", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._stopping.is_set():
            return  # not acknowledged: the broker redelivers it to the next worker
        self._last_activity = time.monotonic()
        self._queue.put(
            Message(
                topic=msg.topic,
                payload=bytes(msg.payload),
                received_at=datetime.now(UTC),
                retain=bool(msg.retain),
                mid=msg.mid,
                qos=msg.qos,
                generation=self._generation,
            )
        )

    # -- writer thread ----------------------------------------------------------------

    def _next_batch(self) -> list[Message]:
        size = self.settings.ingest_batch_size
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.ingest_flush_ms / 1000
        while len(batch) < size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._queue.get_nowait()
                    if remaining <= 0
                    else self._queue.get(timeout=remaining)
                )
            except queue.Empty:
                break
        return batch

    def _commit(self, batch: list[Message]) -> BatchOutcome:
        """Commit a batch, retrying with backoff while the database is unreachable.

        Messages the database refuses are isolated and dead-lettered by ``process_batch``;
        only an unreachable database makes this wait.
        """
        delay = 0.5
        while True:
            try:
                started = time.perf_counter()
                outcome = process_batch(self.engine, batch, self.directory, limits=self.limits)
                self.stats.last_commit_ms = (time.perf_counter() - started) * 1000
                return outcome
            except (OperationalError, InterfaceError) as exc:
                self.stats.commit_errors += 1
                log.error(
                    "commit of %d messages failed, retrying in %.1fs: %s", len(batch), delay, exc
                )
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _ack(self, batch: list[Message]) -> None:
        generation = self._generation
        for message in batch:
            # A message from an earlier connection is redelivered by the broker anyway,
            # and its mid may now name another message.
            if message.generation == generation and message.qos > 0:
                self._client.ack(message.mid, message.qos)

    def _send_receipts(self, outcome: BatchOutcome) -> None:
        """Tell each device which of its punches are now stored (contract v1.1).

        A lost receipt costs a resend, which the unique key absorbs; so QoS 1 without waiting.
        """
        if not self.settings.ingest_receipts:
            return
        for device_id, receipt in outcome.receipts.items():
            self._client.publish(receipt_topic(device_id), receipt.payload(device_id), qos=1)

    def _write_loop(self) -> None:
        last_report = time.monotonic()
        reported_received = 0
        try:
            while True:
                batch = self._next_batch()
                if not batch:
                    if self._stopping.is_set():
                        return
                else:
                    self._in_batch = True
                    self._handle(batch)
                    self._in_batch = False
                    self._last_activity = time.monotonic()
                now = time.monotonic()
                if now - last_report >= 10 and self.stats.received != reported_received:
                    rate = (self.stats.received - reported_received) / (now - last_report)
                    log.info(
                        "ingest: %.0f msg/s, stored %d, duplicates %d, unmatched %d, "
                        "dead letters %d, last commit %.1f ms",
                        rate,
                        self.stats.stored,
                        self.stats.duplicates,
                        self.stats.unmatched,
                        self.stats.dead_letters,
                        self.stats.last_commit_ms,
                    )
                    last_report, reported_received = now, self.stats.received
        finally:
            self._stopped.set()

    def _handle(self, batch: list[Message]) -> None:
        """Commit, ack, count: whatever one batch holds, the writer goes on to the next."""
        try:
            outcome = self._commit(batch)
        except Exception:
            # Not reached while process_batch keeps its promise; if it ever breaks it, the
            # batch is logged as lost rather than the writer stopping for every reader.
            log.exception("batch of %d messages could not be stored; acknowledged", len(batch))
            self.stats.lost += len(batch)
            INGEST_MESSAGES.labels("lost").inc(len(batch))
            self._ack(batch)
            return
        self._ack(batch)
        self._send_receipts(outcome)
        self._count(batch, outcome)
        if self._on_commit is not None:
            try:
                self._on_commit(batch, outcome)
            except Exception:
                log.exception("commit hook failed")

    def _count(self, batch: list[Message], outcome: BatchOutcome) -> None:
        INGEST_MESSAGES.labels("stored").inc(outcome.stored)
        INGEST_MESSAGES.labels("duplicate").inc(outcome.duplicates)
        INGEST_MESSAGES.labels("dead_letter").inc(outcome.dead_letters)
        INGEST_COMMIT_SECONDS.observe(self.stats.last_commit_ms / 1000)
        stats = self.stats
        stats.received += len(batch)
        stats.stored += outcome.stored
        stats.duplicates += outcome.duplicates
        stats.unmatched += outcome.unmatched
        stats.dead_letters += outcome.dead_letters
        stats.batches += 1
        if outcome.dead_letters:
            log.warning("dead letters in batch: %s", outcome.dead_by_code)
        log.debug(
            "batch of %d: stored %d, duplicates %d, dead letters %d",
            len(batch),
            outcome.stored,
            outcome.duplicates,
            outcome.dead_letters,
        )

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.directory.reload()
        self._writer.start()
        self._client.start(
            keepalive=30,
            # MQTT 5 only; MQTT 3.1.1 keeps its session through clean_session=False above.
            clean_start=False,
            properties=self._connect_properties(),
        )

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_idle(self, timeout: float, quiet_s: float = 1.0) -> bool:
        """Wait until nothing has arrived for ``quiet_s`` and everything received is committed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            quiet = time.monotonic() - self._last_activity >= quiet_s
            if quiet and self._queue.empty() and not self._in_batch:
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, commit and acknowledge what is queued, then disconnect."""
        self._stopping.set()
        self._stopped.wait(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        log.info(
            "ingest stopped: received %d, stored %d, duplicates %d, dead letters %d",
            self.stats.received,
            self.stats.stored,
            self.stats.duplicates,
            self.stats.dead_letters,
        )
