"""A badge reader's MQTT side (đầu đọc thẻ): publishes punches, heartbeats and its status.

Used by the simulator and the terminal bridges; a real reader's firmware does the same.
QoS 1 with a persistent session, so punches published while the link is down are sent
when it returns; its last will marks it offline.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from ingest.contract import format_ts, topic_for


class Reader:
    """One device's connection to the broker."""

    def __init__(
        self,
        device_id: str,
        host: str,
        port: int,
        *,
        password: str | None = None,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
        tls_ca: str | None = None,
    ) -> None:
        self.device_id = device_id
        self.host = host
        self.port = port
        self._connected = threading.Event()
        self._refused: str | None = None
        self._pending: set[int] = set()
        self._early_acks: set[int] = set()
        self._acked = threading.Condition()
        self.client = mqtt.Client(
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

    def _status(self, state: str) -> str:
        return json.dumps({"v": 1, "device_id": self.device_id, "state": state})

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            self._refused = str(reason)
            self._connected.set()
            return
        self.publish_raw("status", self._status("online"), retain=True)
        self._connected.set()

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

    def connect(self, timeout: float = 10.0) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            raise ConnectionError(
                f"reader {self.device_id} could not reach {self.host}:{self.port}"
            )
        if self._refused is not None:
            self.client.loop_stop()
            raise ConnectionRefusedError(f"broker refused reader {self.device_id}: {self._refused}")

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
    ) -> mqtt.MQTTMessageInfo:
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
        return self.publish_raw("punch", json.dumps(body).encode())

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
        """Wait until the broker has acknowledged every punch published so far.

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

    @property
    def pending(self) -> int:
        with self._acked:
            return len(self._pending)

    def close(self) -> None:
        self.publish_raw("status", self._status("offline"), retain=True)
        self.drain(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()
