"""Operations: health and readiness, Prometheus metrics, the readers' status."""

from __future__ import annotations

import hmac
import socket
from datetime import UTC, datetime
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
from sqlalchemy import text

from api.deps import Context, DbSession, require
from api.errors import not_found, responses
from services import devices as device_service
from services.schemas import Device, Health
from services.scope import Scope

router = APIRouter(tags=["Vận hành"])
api_router = APIRouter(tags=["Vận hành"])
Operator = Annotated[Scope, Depends(require("devices:read"))]


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
    checks["broker"] = "error: no address"
    for address in settings.mqtt_brokers:  # the nodes of a cluster: one accepting is enough
        try:
            with socket.create_connection((address.host, address.port), timeout=1):
                checks["broker"] = "ok"
                break
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
    figures = device_service.gauges(db, datetime.now(UTC))
    dead = Gauge(
        "kc_dead_letters",
        "Refused messages kept or counted, by reason",
        ["reason"],
        registry=registry,
    )
    for reason, count in dict(figures["dead_letters"]).items():  # type: ignore[arg-type]
        dead.labels(reason).set(count)
    Gauge("kc_recompute_queue", "Keys waiting for the rules runner", registry=registry).set(
        float(figures["queue"])  # type: ignore[arg-type]
    )
    Gauge(
        "kc_unmatched_punches_open", "Punches of unknown cards not yet matched", registry=registry
    ).set(float(figures["unmatched"]))  # type: ignore[arg-type]
    lag = Gauge(
        "kc_seconds_since_last_punch", "Time since the last punch was received", registry=registry
    )
    if "since_last_punch" in figures:
        lag.set(float(figures["since_last_punch"]))  # type: ignore[arg-type]
    devices = Gauge("kc_devices", "Readers by state", ["state"], registry=registry)
    for state, count in dict(figures["devices"]).items():  # type: ignore[arg-type]
        devices.labels(state).set(count)
    from kycuong.metrics import NOTIFY_OUTBOX
    from store.outbox import counts as outbox_counts

    outbox = outbox_counts(db)  # failed notifications visible to the operator's alerting
    for status in ("queued", "sending", "sent", "failed", "cancelled"):
        NOTIFY_OUTBOX.labels(status).set(outbox.get(status, 0))
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@api_router.get(
    "/api/devices",
    response_model=list[Device],
    responses=responses(401, 403),
    summary="Trạng thái thiết bị",
)
def devices(db: DbSession, scope: Operator) -> list[Device]:
    return device_service.status(db, scope, datetime.now(UTC))
