"""Hikvision bridge: face and card terminals push ISAPI event notifications over HTTP
(``AccessControllerEvent``, JSON or multipart with the JSON in a part); the bridge checks
the terminal's credentials, maps the event to the MQTT contract, publishes it as that
device, and answers the terminal only after the broker has acknowledged it.

A body that cannot be read is forwarded raw, so the server keeps it as a dead letter with
its reason (nothing lost), and the terminal gets a 400; a wrong password gets a 401 and
publishes nothing (nothing forged).
"""

import hmac
import json
import logging
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from devices.reader import Reader
from kycuong.bodylimit import BodyLimit

log = logging.getLogger(__name__)
basic = HTTPBasic(auto_error=False)
# Major type 5 (event); minor types that mean "this person was let through".
GRANTED = {1: "card", 38: "fingerprint", 75: "face", 76: "face"}


MAX_FORWARDED_BYTES = 60_000


@dataclass(frozen=True, slots=True)
class HikTerminal:
    device_id: str
    password: str  # what the terminal sends (HTTP basic, user = device id)
    mqtt_password: str | None = None


@dataclass(frozen=True, slots=True)
class HikConfig:
    broker_host: str
    broker_port: int
    terminals: tuple[HikTerminal, ...]
    listen_host: str = "0.0.0.0"
    listen_port: int = 8088
    # An event with its face picture is a few hundred KB; anything much larger is refused
    # (413) before it is read, so a terminal or a stranger cannot exhaust the bridge's memory.
    max_body_bytes: int = 2 * 1024 * 1024
    broker_tls_ca: str | None = None


def load_config(path: Path) -> HikConfig:
    data = tomllib.loads(path.read_text())
    broker, listen = data.get("broker", {}), data.get("listen", {})
    terminals = tuple(HikTerminal(**t) for t in data.get("terminals", []))
    if not terminals:
        raise ValueError(f"{path}: no [[terminals]]")
    return HikConfig(
        broker.get("host", "127.0.0.1"),
        int(broker.get("port", 1883)),
        terminals,
        listen.get("host", "0.0.0.0"),
        int(listen.get("port", 8088)),
        int(listen.get("max_body_bytes", 2 * 1024 * 1024)),
        broker.get("tls_ca"),
    )


class EventError(ValueError):
    """A body that is not an AccessControllerEvent we can read."""


async def read_event(request: Request) -> tuple[dict[str, Any], bytes]:
    """The event JSON from a JSON body or from the multipart part that carries it."""
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    if content_type.startswith("multipart/"):
        form = await request.form()
        for value in form.values():
            text = (
                value if isinstance(value, str) else (await value.read()).decode("utf-8", "replace")
            )
            if "AccessControllerEvent" in text:
                raw = text.encode()
                break
        else:
            raise EventError("no AccessControllerEvent part")
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise EventError(f"not JSON: {exc}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("AccessControllerEvent"), dict):
        raise EventError("no AccessControllerEvent object")
    return event, raw


def to_punch(device_id: str, event: dict[str, Any]) -> dict[str, Any] | None:
    """The contract's punch for an access-granted event; None for other events (doors…)."""
    body = event["AccessControllerEvent"]
    if body.get("majorEventType") != 5 or body.get("subEventType") not in GRANTED:
        return None
    card, employee = str(body.get("cardNo") or ""), str(body.get("employeeNoString") or "")
    if not card and not employee:
        raise EventError("event names neither a card nor an employee")
    try:
        ts = datetime.fromisoformat(str(event["dateTime"]))
        serial = int(body["serialNo"])
    except (KeyError, ValueError) as exc:
        raise EventError(f"missing or bad dateTime/serialNo: {exc}") from exc
    if ts.tzinfo is None:
        raise EventError("dateTime has no offset")
    status = str(body.get("attendanceStatus") or "")
    return {
        "event_id": f"{device_id}-{serial}",
        "credential_value": card or employee,
        "credential_kind": "card" if card else "pin",
        "ts": ts,
        "direction": {"checkIn": "in", "checkOut": "out"}.get(status, "unknown"),
        "verify_mode": GRANTED[body["subEventType"]],
    }


def create_app(config: HikConfig) -> FastAPI:
    terminals = {t.device_id: t for t in config.terminals}
    readers: dict[str, Reader] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for reader in readers.values():
            reader.close()

    # Annotations here are evaluated eagerly (no postponed annotations in this module), so
    # FastAPI sees the local ``terminal`` dependency below.
    app = FastAPI(title="Kỷ Cương — Hikvision bridge", lifespan=lifespan)
    app.add_middleware(BodyLimit, default=config.max_body_bytes)

    def reader_for(device_id: str) -> Reader:
        if device_id not in readers:
            reader = Reader(
                device_id,
                config.broker_host,
                config.broker_port,
                password=terminals[device_id].mqtt_password,
                tls_ca=config.broker_tls_ca,
            )
            reader.connect()
            readers[device_id] = reader
        return readers[device_id]

    def terminal(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
    ) -> HikTerminal:
        known = terminals.get(credentials.username) if credentials else None
        if (
            credentials is None
            or known is None
            or not hmac.compare_digest(known.password.encode(), credentials.password.encode())
        ):
            log.warning("refused an event: unknown terminal or wrong password")
            raise HTTPException(
                401, "wrong terminal or password", headers={"WWW-Authenticate": "Basic"}
            )
        return known

    @app.post("/isapi/events")
    async def receive(
        request: Request, sender: Annotated[HikTerminal, Depends(terminal)]
    ) -> JSONResponse:
        reader = reader_for(sender.device_id)
        try:
            event, _ = await read_event(request)
            punch = to_punch(sender.device_id, event)
        except EventError as exc:
            # The server keeps it as a dead letter; the broker takes at most 64 KB.
            reader.publish_raw("punch", (await request.body())[:MAX_FORWARDED_BYTES])
            reader.drain(timeout=30)
            log.warning("%s sent an unreadable event: %s", sender.device_id, exc)
            return JSONResponse(
                {"statusCode": 4, "statusString": "Invalid Content", "subStatusCode": str(exc)},
                status_code=400,
            )
        if punch is None:
            return JSONResponse({"statusCode": 1, "statusString": "OK", "subStatusCode": "ignored"})
        reader.punch(punch.pop("event_id"), punch.pop("credential_value"), punch.pop("ts"), **punch)
        reader.drain(timeout=30)  # answer only once the broker holds it
        return JSONResponse({"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
