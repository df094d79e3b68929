"""schemathesis against the OpenAPI document, on the real PostgreSQL: generated requests to
every operation, signed in as the admin, must never meet a server error, and every answer
must match the schema. Bounded: a few dozen examples per operation."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy import Engine

from kycuong.settings import Settings
from store.db import make_engine
from tests.integration.test_api import build_world
from tests.support import MosquittoProcess, truncate_all

EXAMPLES = 25


def test_no_server_error_and_answers_match_the_schema(
    pg_url: str, mosquitto: MosquittoProcess
) -> None:
    engine: Engine = make_engine(pg_url)
    truncate_all(engine)
    settings_ = Settings(
        database_url=pg_url,
        mqtt_port=mosquitto.port,
        api_secret="fuzz-secret-of-at-least-32-bytes!!",
    )
    world = build_world(engine, settings_)
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 14
    headers = world.headers("admin")
    tried: dict[str, int] = {}

    # Signing out ends the admin's tokens: fuzz it last, so it does not turn the rest into 401s.
    operations.sort(key=lambda op: op.path.endswith("/logout"))
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        try:
            fuzz(operation, headers, tried, label)()
        except Exception as exc:  # name the operation that failed
            pytest.fail(f"{label}: {exc}")
    assert len(tried) == len(operations)
    truncate_all(engine)
    engine.dispose()


def fuzz(operation: Any, headers: dict[str, str], tried: dict[str, int], label: str) -> Any:
    """A hypothesis test that calls one operation with generated requests."""

    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        case: Case[Any] = data.draw(operation.as_strategy())
        case.call_and_validate(
            headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )
        tried[label] = tried.get(label, 0) + 1

    return run
