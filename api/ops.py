"""Operations: health and readiness, Prometheus metrics, the readers' status."""

from __future__ import annotations

import hmac
import socket
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
)
from sqlalchemy import func, select, text

from api.deps import Context, DbSession, require
from api.errors import not_found, responses
from api.schemas import Device, Health
from api.scope import Scope
from store.models import DeadLetter, DeadLetterTally, Punch, RecomputeRequest, UnmatchedPunch
from store.models import Device as DeviceRow

router = APIRouter(tags=["Vận hành"])
Operator = Annotated[Scope, Depends(require("devices:read"))]
ONLINE_WITHIN = timedelta(minutes=3)


@router.get("/healthz", response_model=Health, summary="Tiến trình còn sống")
def healthz() -> Health:
    return Health(status="ok", checks={"process": "ok"})


@router.get(
    "/readyz", response_model=Health, responses={503: {"model": Health}}, summary="Sẵn sàng phục vụ"
)
def readyz(context: Context) -> Response:
    """The database answers and the broker accepts connections."""
    checks: dict[str, str] = {}
    try:
        with context.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"error: {type(exc).__name__}"
    settings = context.settings
    try:
        with socket.create_connection((settings.mqtt_host, settings.mqtt_port), timeout=1):
            checks["broker"] = "ok"
    except OSError as exc:
        checks["broker"] = f"error: {exc.strerror or type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "degraded", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def metrics_allowed(context: Context, request: Request) -> None:
    """/metrics only with ``KC_METRICS_TOKEN`` as a bearer token; off when none is set."""
    expected = context.settings.metrics_token
    given = request.headers.get("authorization", "")
    if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise not_found("Trang")


@router.get(
    "/metrics",
    summary="Prometheus (Authorization: Bearer KC_METRICS_TOKEN)",
    response_class=Response,
    dependencies=[Depends(metrics_allowed)],
)
def metrics(db: DbSession) -> Response:
    """This process's counters plus gauges read from the database at scrape time."""
    registry = CollectorRegistry()
    dead = Gauge(
        "kc_dead_letters",
        "Refused messages kept or counted, by reason",
        ["reason"],
        registry=registry,
    )
    refused: dict[str, int] = {}
    for reason, count in db.execute(
        select(DeadLetter.reason_code, func.sum(DeadLetter.count)).group_by(DeadLetter.reason_code)
    ):
        refused[reason] = refused.get(reason, 0) + int(count or 0)
    for reason, count in db.execute(
        select(DeadLetterTally.reason_code, func.sum(DeadLetterTally.count)).group_by(
            DeadLetterTally.reason_code
        )
    ):
        refused[reason] = refused.get(reason, 0) + int(count or 0)
    for reason, count in refused.items():
        dead.labels(reason).set(count)
    Gauge("kc_recompute_queue", "Keys waiting for the rules runner", registry=registry).set(
        db.scalar(select(func.count()).select_from(RecomputeRequest)) or 0
    )
    Gauge(
        "kc_unmatched_punches_open", "Punches of unknown cards not yet matched", registry=registry
    ).set(
        db.scalar(
            select(func.count())
            .select_from(UnmatchedPunch)
            .where(UnmatchedPunch.matched_employee_id.is_(None))
        )
        or 0
    )
    last = db.scalar(select(func.max(Punch.received_at)))
    lag = Gauge(
        "kc_seconds_since_last_punch", "Time since the last punch was received", registry=registry
    )
    if last is not None:
        lag.set((datetime.now(UTC) - last).total_seconds())
    devices = Gauge("kc_devices", "Readers by state", ["state"], registry=registry)
    now = datetime.now(UTC)
    online = offline = 0
    for seen, enabled in db.execute(select(DeviceRow.last_seen_at, DeviceRow.enabled)):
        if enabled and seen is not None and now - seen <= ONLINE_WITHIN:
            online += 1
        elif enabled:
            offline += 1
    devices.labels("online").set(online)
    devices.labels("offline").set(offline)
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/devices",
    response_model=list[Device],
    responses=responses(401, 403),
    summary="Trạng thái thiết bị",
)
def devices(db: DbSession, _scope: Operator) -> list[Device]:
    now = datetime.now(UTC)
    unknown = dict(
        db.execute(
            select(UnmatchedPunch.device_id, func.count())
            .where(UnmatchedPunch.punched_at >= now - timedelta(days=1))
            .group_by(UnmatchedPunch.device_id)
        ).all()
    )
    result = []
    for d in db.scalars(select(DeviceRow).order_by(DeviceRow.id)):
        online = (
            d.last_seen_at is not None
            and now - d.last_seen_at <= ONLINE_WITHIN
            and d.state != "offline"
        )
        result.append(
            Device(
                id=d.id,
                site=d.site,
                direction=d.direction,
                enabled=d.enabled,
                state=d.state,
                online=online,
                last_seen_at=d.last_seen_at,
                clock_offset_s=d.clock_offset_s,
                sent_up_to=d.sent_up_to,
                backlog=d.backlog,
                unknown_cards_24h=int(unknown.get(d.id, 0)),
            )
        )
    return result
