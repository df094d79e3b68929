"""Hikvision bridge: face and card terminals push ISAPI event notifications over HTTP
(``AccessControllerEvent``, JSON or multipart with the JSON in a part); the bridge checks
the terminal's credentials, maps the event to the MQTT contract, publishes it as that
device, and answers the terminal "OK" only on the server's receipt (contract v1.1); until
then it answers 503, so the terminal sends the event again. The bridge never blocks on the
broker: while it is unreachable every terminal is answered at once, and punches wait in an
outbox. It reads each terminal's clock (ISAPI ``/ISAPI/System/time``) into heartbeats, so a
terminal with a wrong time or zone is measured and corrected, and keeps what it measured
(``devices.clocks``): each punch carries the offset in force when it was made, so an event
made in the wrong zone but delivered after the fix is corrected by the old offset.

A body that cannot be read is forwarded raw, so the server keeps it as a dead letter with
its reason (nothing lost), and the terminal gets a 400; a wrong password gets a 401 and
publishes nothing (nothing forged).
"""

import hmac
import json
import logging
import threading
import time
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
from anyio import to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from devices.clocks import ClockHistory
from devices.reader import Reader, broker_spec
from kycuong.bodylimit import BodyLimit

log = logging.getLogger(__name__)
basic = HTTPBasic(auto_error=False)
# Major type 5 (event); minor types that mean "this person was let through".
GRANTED = {1: "card", 38: "fingerprint", 75: "face", 76: "face"}


MAX_FORWARDED_BYTES = 60_000
# A live event more than this off the last measured offset: the terminal's clock was set.
CLOCK_SET_S = 60.0
MIN_REMEASURE_S = 5.0  # a backlog of old events reads the clock at most this often


@dataclass(frozen=True, slots=True)
class HikTerminal:
    device_id: str
    password: str  # what the terminal sends (HTTP basic, user = device id)
    mqtt_password: str | None = None
    address: str | None = None  # e.g. "http://192.168.1.64": where to read its clock
    isapi_user: str = "admin"
    isapi_password: str = ""


@dataclass(frozen=True, slots=True)
class HikConfig:
    broker_host: str  # several nodes: "nats-1,nats-2:1884" (TOML: hosts = [...])
    broker_port: int
    terminals: tuple[HikTerminal, ...]
    listen_host: str = "0.0.0.0"
    listen_port: int = 8088
    state_dir: Path = Path("hikvision-state")
    receipt_timeout_s: float = 10.0  # then 503: the terminal sends the event again
    resend_seconds: float = 30.0
    clock_seconds: float = 60.0
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
        broker_spec(broker),
        int(broker.get("port", 1883)),
        terminals,
        listen.get("host", "0.0.0.0"),
        int(listen.get("port", 8088)),
        Path(data.get("state_dir", "hikvision-state")),
        float(data.get("receipt_timeout_seconds", 10)),
        float(data.get("resend_seconds", 30)),
        float(data.get("clock_seconds", 60)),
        int(listen.get("max_body_bytes", 2 * 1024 * 1024)),
        broker.get("tls_ca"),
    )


def read_clock(terminal: HikTerminal, timeout: float = 5.0) -> datetime:
    """The terminal's clock as it states it (ISAPI System/time ``localTime``, with its offset)."""
    assert terminal.address is not None
    answer = httpx.get(
        f"{terminal.address.rstrip('/')}/ISAPI/System/time",
        auth=httpx.DigestAuth(terminal.isapi_user, terminal.isapi_password),
        timeout=timeout,
    )
    answer.raise_for_status()
    root = ET.fromstring(answer.text)
    local = next((e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "localTime"), None)
    if not local:
        raise ValueError("no localTime in the terminal's answer")
    clock = datetime.fromisoformat(local.strip())
    if clock.tzinfo is None:
        raise ValueError(f"the terminal's localTime has no offset: {local!r}")
    return clock


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
    except (ValueError, RecursionError) as exc:  # RecursionError: deeply nested arrays
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
    # A terminal reset restarts serialNo: with its time, a reused serial is another event,
    # while the terminal's resend of the same event keeps the same id.
    return {
        "event_id": f"{device_id}-{serial}-{ts:%Y%m%d%H%M%S}",
        "credential_value": card or employee,
        "credential_kind": "card" if card else "pin",
        "ts": ts,
        "direction": {"checkIn": "in", "checkOut": "out"}.get(status, "unknown"),
        "verify_mode": GRANTED[body["subEventType"]],
    }


def create_app(config: HikConfig) -> FastAPI:
    terminals = {t.device_id: t for t in config.terminals}
    readers = {
        t.device_id: Reader(
            t.device_id,
            config.broker_host,
            config.broker_port,
            password=t.mqtt_password,
            outbox=config.state_dir / f"{t.device_id}.outbox.sqlite",
            resend_after=config.resend_seconds,
            tls_ca=config.broker_tls_ca,
        )
        for t in config.terminals
    }
    stop = threading.Event()
    # Each terminal's clock readings (offsets and when), kept across the bridge's restarts.
    clocks = {
        t.device_id: ClockHistory(config.state_dir / f"{t.device_id}.clock.json")
        for t in config.terminals
        if t.address is not None
    }
    measuring = threading.Lock()
    remeasured: dict[str, float] = {}  # when an event last made us read the clock

    def measure(t: HikTerminal) -> None:
        """Read the terminal's clock into a heartbeat (the server measures its offset from it)."""
        reader = readers[t.device_id]
        if t.address is None or not reader.connected:
            return
        try:
            clock = read_clock(t)
        except (httpx.HTTPError, ValueError, ET.ParseError) as exc:
            log.warning("%s: cannot read the terminal's clock: %s", t.device_id, exc)
            return
        backlog = reader.unconfirmed()
        with measuring:
            reader.heartbeat(clock, clock if backlog == 0 else None, backlog)
            clocks[t.device_id].record(clock, datetime.now(UTC))

    def remeasure_if_set(t: HikTerminal, ts: datetime) -> None:
        """A live event whose time disagrees with the last measured offset: the clock was set
        (the wrong zone fixed) since; measure it again before its punch is published, so the
        server does not correct the punch by the old offset (the heartbeat goes first on the
        same connection, and ingest applies it to the punches after it)."""
        with measuring:
            last = clocks[t.device_id].current
        if last is None:
            return
        implied = (ts - datetime.now(UTC)).total_seconds()
        if abs(implied - last) <= CLOCK_SET_S:
            return
        now = time.monotonic()
        if now - remeasured.get(t.device_id, -MIN_REMEASURE_S) < MIN_REMEASURE_S:
            return  # a backlog of old events: once in a while is enough
        remeasured[t.device_id] = now
        measure(t)

    def offset_then(t: HikTerminal, ts: datetime) -> dict[str, object] | None:
        """The punch's ``clock_offset_s``: the offset in force when the event was made."""
        if t.address is None:
            return None  # never measured here: the server applies its own measurement
        with measuring:
            offset = clocks[t.device_id].offset_for(ts, datetime.now(UTC))
        return None if offset is None else {"clock_offset_s": round(offset, 3)}

    def report_clocks() -> None:
        """Every ``clock_seconds``: each terminal's clock into a heartbeat (server measures it)."""
        while True:
            for t in config.terminals:
                measure(t)
            if stop.wait(config.clock_seconds):
                return

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for reader in readers.values():
            reader.connect(wait=False)  # never hold a terminal for the broker
        for reader in readers.values():  # but give it a moment to answer at start
            await to_thread.run_sync(reader.wait_connected, 2.0)
        reading = threading.Thread(target=report_clocks, name="hik-clocks", daemon=True)
        reading.start()
        yield
        stop.set()
        for reader in readers.values():
            await to_thread.run_sync(reader.close)

    # Annotations here are evaluated eagerly (no postponed annotations in this module), so
    # FastAPI sees the local ``terminal`` dependency below.
    app = FastAPI(title="Kỷ Cương — Hikvision bridge", lifespan=lifespan)
    app.add_middleware(BodyLimit, default=config.max_body_bytes)

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

    def not_yet(reason: str) -> JSONResponse:
        """503: the terminal keeps the event and sends it again."""
        return JSONResponse(
            {"statusCode": 6, "statusString": "Device Busy", "subStatusCode": reason},
            status_code=503,
        )

    @app.post("/isapi/events")
    async def receive(
        request: Request, sender: Annotated[HikTerminal, Depends(terminal)]
    ) -> JSONResponse:
        reader = readers[sender.device_id]
        try:
            event, _ = await read_event(request)
            punch = to_punch(sender.device_id, event)
        except EventError as exc:
            log.warning("%s sent an unreadable event: %s", sender.device_id, exc)
            if not reader.connected:
                return not_yet("broker unreachable")
            # The server keeps it as a dead letter; the broker takes at most 64 KB.
            reader.publish_raw("punch", (await request.body())[:MAX_FORWARDED_BYTES])
            try:
                await to_thread.run_sync(reader.drain, config.receipt_timeout_s)
            except TimeoutError:
                return not_yet("broker did not acknowledge")
            return JSONResponse(
                {"statusCode": 4, "statusString": "Invalid Content", "subStatusCode": str(exc)},
                status_code=400,
            )
        if punch is None:
            return JSONResponse({"statusCode": 1, "statusString": "OK", "subStatusCode": "ignored"})
        event_id = punch.pop("event_id")
        if sender.address is not None and reader.connected:
            await to_thread.run_sync(remeasure_if_set, sender, punch["ts"])
        # Kept in the outbox even while the broker is away; a retry of it is not kept twice.
        made = offset_then(sender, punch["ts"])
        reader.punch(event_id, punch.pop("credential_value"), punch.pop("ts"), **punch, extra=made)
        if not reader.connected:
            return not_yet("broker unreachable")
        stored = await to_thread.run_sync(reader.wait_receipt, event_id, config.receipt_timeout_s)
        if not stored:
            return not_yet("not yet stored")
        return JSONResponse({"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
