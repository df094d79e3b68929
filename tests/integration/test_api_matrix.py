"""The authorization matrix: every role against every endpoint, on objects inside and outside
its scope. No permission: 403. Permission but outside the scope: 404, never 403, so that an
id reveals nothing. Inside: success."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from kycuong.settings import Settings
from services.scope import PERMISSIONS
from store.db import make_engine
from tests.integration.test_api import USERS, World, build_world
from tests.support import free_port, truncate_all

# e1 works in unit A1 of agency A.
SEES_E1 = {"admin", "head_a1", "noivu_a", "noivu_all", "hr_a"}
ROLE = {name: spec[0] for name, spec in USERS.items()}


@pytest.fixture(scope="module")
def world(pg_url: str) -> Iterator[World]:
    engine: Engine = make_engine(pg_url)
    truncate_all(engine)
    settings = Settings(
        database_url=pg_url, mqtt_port=free_port(), api_secret="matrix-secret-of-at-least-32-bytes!"
    )
    yield build_world(engine, settings)
    truncate_all(engine)
    engine.dispose()


def expected(user: str, permission: str | None, in_scope: bool, success: int = 200) -> int:
    if permission is not None and ROLE[user] not in PERMISSIONS[permission]:
        return 403
    return success if in_scope else 404


def _new_excuse(world: World) -> int:
    answer = world.request_leave("admin", "e1", "annual_leave", "2026-12-01")
    assert answer.status_code == 201
    return int(answer.json()["id"])


@pytest.mark.parametrize("user", sorted(USERS))
class TestMatrix:
    def test_me(self, world: World, user: str) -> None:
        assert world.get(user, "/api/me").status_code == 200

    def test_list_violations(self, world: World, user: str) -> None:
        assert world.get(user, "/api/violations").status_code == expected(
            user, "violations:read", True
        )

    def test_read_a_violation(self, world: World, user: str) -> None:
        target = world.violation_id("e1", "late")
        assert world.get(user, f"/api/violations/{target}").status_code == expected(
            user, "violations:read", user in SEES_E1
        )

    def test_review_a_violation(self, world: World, user: str) -> None:
        target = world.violation_id("e1", "late")
        answer = world.client.post(
            f"/api/violations/{target}/review",
            headers=world.headers(user),
            json={"decision": "confirmed"},
        )
        assert answer.status_code == expected(user, "violations:review", user in SEES_E1)

    def test_review_in_bulk(self, world: World, user: str) -> None:
        target = world.violation_id("e1", "late")
        answer = world.client.post(
            "/api/violations/reviews",
            headers=world.headers(user),
            json={"ids": [target], "decision": "confirmed"},
        )
        status = expected(user, "violations:review", True)
        assert answer.status_code == status
        if status == 200:
            assert answer.json()[0]["ok"] == (user in SEES_E1)

    def test_list_leave(self, world: World, user: str) -> None:
        assert world.get(user, "/api/excuses").status_code == expected(user, "excuses:read", True)

    def test_register_leave(self, world: World, user: str) -> None:
        answer = world.request_leave(user, "e1", "training", "2026-12-02")
        assert answer.status_code == expected(user, "excuses:write", user in SEES_E1, success=201)

    @pytest.mark.parametrize("action", ["approve", "cancel"])
    def test_decide_leave(self, world: World, user: str, action: str) -> None:
        excuse = _new_excuse(world)
        answer = world.client.post(f"/api/excuses/{excuse}/{action}", headers=world.headers(user))
        assert answer.status_code == expected(user, "excuses:write", user in SEES_E1)

    def test_import_leave(self, world: World, user: str) -> None:
        # A day per user: the world is shared, and the same leave imported twice is refused.
        day = 10 + sorted(USERS).index(user)
        body = f"Mã cán bộ,Loại,Từ ngày\ne1,phép,{day:02d}/12/2026\n".encode()
        answer = world.client.post(
            "/api/excuses/import",
            headers=world.headers(user),
            files={"file": ("n.csv", body, "text/csv")},
        )
        if ROLE[user] not in PERMISSIONS["excuses:import"]:
            assert answer.status_code == 403
        else:
            # Outside the scope the person is "not found": the file is refused, nothing revealed.
            assert answer.status_code == (200 if user in SEES_E1 else 400)

    def test_summaries(self, world: World, user: str) -> None:
        answer = world.get(user, "/api/summaries", period="month", year=2026, month=11)
        assert answer.status_code == expected(user, "summaries:read", True)
        if answer.status_code == 200:
            codes = {p["code"] for p in answer.json()["people"]}
            assert ("e1" in codes) == (user in SEES_E1)

    def test_devices(self, world: World, user: str) -> None:
        assert world.get(user, "/api/devices").status_code == expected(user, "devices:read", True)

    def test_signin_locks(self, world: World, user: str) -> None:
        assert world.get(user, "/api/auth/locks").status_code == expected(user, "users:admin", True)

    def test_unlock(self, world: World, user: str) -> None:
        answer = world.client.delete("/api/auth/locks/user:nobody", headers=world.headers(user))
        # Permission granted, but no such lock: 404.
        assert answer.status_code == expected(user, "users:admin", False)
