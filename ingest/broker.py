"""The embedded broker for the one-office quickstart: amqtt (MQTT 3.1.1) in a thread.

A province runs Mosquitto (deploy/mosquitto); the ingest worker and the readers speak to
either through the same paho code. Like the shipped Mosquitto, the embedded broker lets in
only registered, enabled readers (with their password, under a client id equal to their
device id) and the server's own service accounts; a reader may publish the contract's three
topics under its own id (its last will too) and subscribe only to its own receipts
(``devices.provision.device_acls``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session
from sqlalchemy import select

from devices.provision import ServiceAccount, device_acls, service_acls, verify_password
from store.db import db_session, engine_for
from store.models import Device

log = logging.getLogger(__name__)
# As deploy/mosquitto/mosquitto.conf's message_size_limit.
MAX_MESSAGE_BYTES = 65_536


def _matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching ('+' one level, '#' the rest)."""
    parts, levels = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(parts):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(parts) == len(levels)


class DeviceAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """Service accounts by password hash; readers from the device registry, client id bound."""

    @dataclass
    class Config:
        database_url: str = ""
        services: dict[str, str] = field(default_factory=dict)  # username -> password hash

    async def authenticate(self, *, session: Session) -> bool:
        username, password = session.username, session.password
        if not username or password is None:
            return False
        services: dict[str, str] = self.config.services
        if username in services:
            return verify_password(password, services[username])
        if session.client_id != username:
            return False  # a reader's client id is its device id: no one takes another's
        return await asyncio.to_thread(self._device_ok, username, password)

    def _device_ok(self, device_id: str, password: str) -> bool:
        with db_session(engine_for(self.config.database_url)) as db:
            row = db.execute(
                select(Device.secret_hash, Device.enabled).where(Device.id == device_id)
            ).first()
        return row is not None and row.enabled and verify_password(password, row.secret_hash)


def may(username: str | None, services: dict[str, str], topic: str, action: Action) -> bool:
    """The dynamic-security rules Mosquitto gets (``devices.provision``), applied in process."""
    if not username:
        return False
    if action == Action.RECEIVE:
        return True  # what a client may subscribe to was checked at SUBSCRIBE
    acls = (
        service_acls(ServiceAccount(username, ""))
        if username in services
        else device_acls(username)
    )
    for acl in acls:
        kind = acl["acltype"]
        if action == Action.PUBLISH and kind == "publishClientSend":
            allowed = _matches(acl["topic"], topic)
        elif action == Action.SUBSCRIBE and kind == "subscribeLiteral":
            allowed = acl["topic"] == topic
        elif action == Action.SUBSCRIBE and kind == "subscribePattern":
            allowed = _matches(acl["topic"], topic)
        else:
            continue
        if allowed:
            return bool(acl["allow"])
    return False


class _Broker(Broker):  # type: ignore[misc]
    """amqtt with the device ACL checked in line.

    A topic plugin would be awaited for every delivery, which reorders amqtt's broadcast
    tasks and, measured here, left QoS 1 deliveries to the ingest stalled; the check is
    plain code, so it runs here without yielding.
    """

    def __init__(self, config: dict[str, Any], services: dict[str, str] | None) -> None:
        super().__init__(config)
        self._services = services

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        if self._services is None:
            return True  # the anonymous broker of ingest tests
        return may(session.username, self._services, topic, action)

    async def _handle_message_delivery(
        self, client_session: Session, handler: Any, wait_deliver: Any
    ) -> bool:
        # Mosquitto's message_size_limit, here: a larger message is not delivered (amqtt has
        # no limit of its own; it has read the packet by now, and closing the loop here would
        # leave the connection hanging, so the sender stays connected).
        message = wait_deliver.result()
        data = getattr(message, "data", None) or b""
        if self._services is not None and len(data) > MAX_MESSAGE_BYTES:
            log.warning(
                "%s sent a %d-byte message, over the %d-byte limit: not delivered",
                client_session.client_id,
                len(data),
                MAX_MESSAGE_BYTES,
            )
            return True
        result: bool = await super()._handle_message_delivery(client_session, handler, wait_deliver)
        return result

    async def _handle_client_session(
        self,
        reader: Any,
        writer: Any,
        client_session: Session,
        handler: Any,
        server: Any,
        listener_name: str,
    ) -> None:
        # amqtt 0.12 takes over a connected client id before it refuses a failed sign-in, so
        # a stranger could disconnect the ingest with its client id: refuse first.
        listener = self.listeners_config[listener_name]
        if not await self._authenticate(client_session, listener):
            handler.attach(client_session, reader, writer)
            await handler.mqtt_connack_authorize(False)
            await writer.close()
            return
        # amqtt sends a last will without the publish check: a reader could leave a punch
        # for another reader, or a forged receipt, as its will. Like Mosquitto, drop a will
        # the client could not publish itself.
        will_topic = client_session.will_topic or ""
        if (
            client_session.will_flag
            and self._services is not None
            and not may(client_session.username, self._services, will_topic, Action.PUBLISH)
        ):
            log.warning(
                "%s may not publish its last will on %r: the will is dropped",
                client_session.client_id,
                will_topic,
            )
            client_session.will_flag = False
        await super()._handle_client_session(
            reader, writer, client_session, handler, server, listener_name
        )


class EmbeddedBroker:
    """An in-process MQTT broker listening on ``host:port`` until ``stop()``.

    With ``database_url`` it authenticates like the shipped Mosquitto (readers from the
    registry, ``services`` by password hash); without it, it is anonymous (tests of ingest).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1884,
        *,
        database_url: str | None = None,
        services: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.database_url = database_url
        self.services = services or {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)

    def _config(self) -> dict[str, Any]:
        plugins: dict[str, Any]
        if self.database_url is None:
            plugins = {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            }
        else:
            plugins = {
                f"{__name__}.DeviceAuthPlugin": {
                    "database_url": self.database_url,
                    "services": self.services,
                },
            }
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": plugins,
        }

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            broker = _Broker(
                self._config(), self.services if self.database_url is not None else None
            )
            try:
                await broker.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            await self._stop.wait()
            await broker.shutdown()

        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        asyncio.run(serve())

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("embedded broker did not start in time")
        if self._error is not None:
            raise RuntimeError(f"embedded broker failed to start: {self._error}") from self._error
        log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) on %s:%d", self.host, self.port)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
