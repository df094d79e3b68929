"""A bare MQTT client for broker tests (Mosquitto, the embedded amqtt broker, NATS): it records
every answer the broker gives it, so a test can assert what a reader, the ingest account or a
stranger is allowed to do."""

from __future__ import annotations

import ssl
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

V311 = MQTTProtocolVersion.MQTTv311
V5 = MQTTProtocolVersion.MQTTv5


class Peer:
    """A paho client (MQTT 3.1.1 unless told, which every broker here speaks) connected to
    127.0.0.1:``port``: its CONNACK, SUBACKs, PUBACKs, disconnections and messages recorded.

    A refused CONNECT is not retried (paho would retry it forever)."""

    keepalive = 60  # seconds

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str | None = None,
        *,
        protocol: MQTTProtocolVersion = V311,
        clean_session: bool = True,
        will: tuple[str, bytes] | None = None,
        tls_ca: Path | None = None,
    ) -> None:
        self.connack: ReasonCode | None = None
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.pubacks: dict[int, ReasonCode] = {}
        self.disconnects: list[ReasonCode] = []
        self.received: list[mqtt.MQTTMessage] = []
        self._connected = threading.Event()
        self._acked = threading.Condition()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=(username or f"anon-{uuid.uuid4().hex[:6]}")
            if client_id is None
            else client_id,
            protocol=protocol,
            clean_session=None if protocol == V5 else clean_session,
        )
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _c, _u, m: self.received.append(m)
        self.client.connect("127.0.0.1", port, keepalive=self.keepalive)
        self.client.loop_start()
        assert self._connected.wait(10), "no CONNACK"

    def _on_connect(
        self, _c: object, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        self.connack = reason
        self._connected.set()
        if reason.is_failure:
            self.client.disconnect()

    def _on_disconnect(
        self, _c: object, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        self.disconnects.append(reason)

    def _on_subscribe(
        self, _c: object, _u: object, mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        with self._acked:
            self.subacks[mid] = reasons
            self._acked.notify_all()

    def _on_publish(self, _c: object, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with self._acked:
            self.pubacks[mid] = reason
            self._acked.notify_all()

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    @property
    def refused(self) -> bool:
        return self.connack is not None and self.connack.is_failure

    def subscribe(self, topic: str) -> ReasonCode:
        """The SUBACK's code: 0 or 1 granted (the QoS), 128 (0x80) or 135 refused."""
        _, mid = self.client.subscribe(topic, qos=1)
        assert mid is not None
        with self._acked:
            assert self._acked.wait_for(lambda: mid in self.subacks, 10), f"no SUBACK for {topic}"
            return self.subacks[mid][0]

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """The PUBACK's code (QoS 1): always success in MQTT 3.1.1, where a broker refusing
        a message says nothing."""
        info = self.client.publish(topic, payload, qos=1)
        with self._acked:
            assert self._acked.wait_for(lambda: info.mid in self.pubacks, 10), "no PUBACK"
            return self.pubacks[info.mid]

    def topics(self) -> list[str]:
        return [m.topic for m in self.received]

    def drop(self) -> None:
        """Vanish without DISCONNECT, as a reader losing power does: the broker sends the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
