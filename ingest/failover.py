"""Several broker addresses for one MQTT client (địa chỉ dự phòng): the nodes of a NATS cluster
given to the ingest worker, the readers and the bridges, so losing the node a client is on
stalls nobody, with no TCP load balancer or DNS in front.

Addresses are written ``mqtt://nats-1:1883,mqtt://nats-2:1883`` (``KC_MQTT_URL``) or
``nats-1,nats-2:1884`` (``KC_MQTT_HOST``, a bare host taking ``KC_MQTT_PORT``); one address is
what every client took before.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

log = logging.getLogger(__name__)

SCHEMES = ("mqtt", "mqtts", "tcp", "ssl")


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_brokers(spec: str | Sequence[str], default_port: int) -> tuple[BrokerAddress, ...]:
    """Broker addresses from ``mqtt://a:1883,b:1884,c`` (or a list of such entries).

    Raises ``ValueError`` with a Vietnamese message naming the entry that cannot be read.
    """
    entries = spec.split(",") if isinstance(spec, str) else list(spec)
    addresses = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if "://" not in entry and entry.count(":") > 1 and _is_ipv6(entry):
            addresses.append(BrokerAddress(entry, default_port))  # bare IPv6, as before: ::1
            continue
        text = entry if "://" in entry else f"mqtt://{entry}"
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ValueError(f"địa chỉ máy chủ MQTT {entry!r} có cổng không hợp lệ") from None
        if port == 0:
            raise ValueError(f"địa chỉ máy chủ MQTT {entry!r} có cổng không hợp lệ")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                f"địa chỉ máy chủ MQTT {entry!r} chứa tên đăng nhập/mật khẩu; "
                "đặt chúng trong KC_MQTT_USERNAME/KC_MQTT_PASSWORD (cầu nối: mật khẩu thiết bị)"
            )
        if parts.scheme not in SCHEMES or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(
                f"địa chỉ máy chủ MQTT {entry!r} không đọc được; "
                "viết dạng mqtt://máy-chủ:1883, nhiều địa chỉ cách nhau bằng dấu phẩy"
            )
        addresses.append(BrokerAddress(parts.hostname, port or default_port))
    if not addresses:
        raise ValueError("chưa có địa chỉ máy chủ MQTT nào")
    return tuple(addresses)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


TLS_SCHEMES = ("mqtts", "ssl")


def asks_for_tls(spec: str | Sequence[str]) -> bool:
    """Whether an address is written ``mqtts://``/``ssl://``: TLS is switched on by the CA
    (``KC_MQTT_TLS_CA``, a bridge's ``tls_ca``), never by the scheme alone."""
    entries = spec.split(",") if isinstance(spec, str) else list(spec)
    return any(e.strip().lower().startswith(tuple(f"{s}://" for s in TLS_SCHEMES)) for e in entries)


def brokers(host: str | Sequence[BrokerAddress], port: int) -> tuple[BrokerAddress, ...]:
    """What a client was given, as addresses: a spec string, or addresses already read."""
    return parse_brokers(host, port) if isinstance(host, str) else tuple(host)


class FailoverClient(mqtt.Client):
    """paho's client over several broker addresses: each reconnection, after a lost connection
    or a failed attempt, goes to the next address in turn (paho itself knows only one).

    Its session and its queued QoS 1 messages live in the cluster, not in the node, so the
    next node carries on where the lost one stopped.
    """

    def __init__(self, addresses: Sequence[BrokerAddress], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not addresses:
            raise ValueError("no broker address")
        self.addresses = tuple(addresses)
        self._turn = 0
        self._failures: dict[BrokerAddress, str] = {}  # the last reason each address failed

    def reconnect(self) -> MQTTErrorCode:
        address = self.addresses[self._turn % len(self.addresses)]
        self._turn += 1
        if len(self.addresses) > 1 and self._turn > 1:
            log.info("connecting to the broker at %s", address)
        # paho reads its one address from these when it opens the socket; the public setters
        # refuse while the lost connection is not yet marked closed, i.e. exactly now.
        self._host, self._port = address.host, address.port
        try:
            rc = super().reconnect()
        except OSError as exc:
            # Said once per address and reason: a wrong CA or a name missing from the node's
            # certificate is otherwise only "could not reach" (paho retries in silence).
            reason = str(exc) or type(exc).__name__
            if self._failures.get(address) != reason:
                self._failures[address] = reason
                log.warning("cannot connect to the broker at %s: %s", address, reason)
            raise
        self._failures.pop(address, None)  # reached: a later failure is told again
        return rc

    @property
    def failures(self) -> dict[BrokerAddress, str]:
        """Why each address that failed last time did (a refused port, a certificate)."""
        return dict(self._failures)

    def start(self, keepalive: int, **connect: Any) -> None:
        """``connect_async`` to the first address and start the network thread."""
        first = self.addresses[0]
        self.connect_async(first.host, first.port, keepalive=keepalive, **connect)
        self.loop_start()
