"""Who reaches which page (web authorization matrix), derived from the permissions table
(``services.scope.PERMISSIONS``) and the menu entries (``web.common.nav``): 200 when the role
holds the page's permission and the object is in scope, 404 when it is outside the scope
(never revealed), 403 without the permission, and the sign-in page for a stranger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from services.accounts import create_staff_account
from services.scope import PERMISSIONS, Scope
from store.db import db_session
from store.models import User
from store.users import hash_password
from tests.integration.test_api import PASSWORD, USERS, World, build_world, world_settings
from tests.integration.test_web_pages import unit_id
from tests.signin import browser, signed_in
from web import common


@dataclass(frozen=True)
class Target:
    """A page asked for by URL; ``unit`` names the unit its object belongs to (None: a list
    of whatever the visitor's scope holds)."""

    path: str
    permission: str
    unit: str | None = None
    anonymous: int = 303  # a page sends a stranger to sign in; a chart answers 401


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


# A member of staff of unit A1 (role employee, self-service): only their own pages.
STAFF = "e1"
ROLES = {name: role for name, (role, _agency, _unit) in USERS.items()} | {STAFF: "employee"}


def _staff_account(world: World) -> None:
    """HR's account for the person e1, with the one-time password already replaced."""
    with db_session(world.engine) as db:
        create_staff_account(db, Scope(0, "hr", "hr_clerk", None), STAFF, datetime.now(UTC))
        user = db.scalar(select(User).where(User.username == STAFF))
        assert user is not None
        user.password_hash, user.must_change_password = hash_password(PASSWORD), False


@pytest.fixture
def clients(world: World) -> dict[str, TestClient]:
    _staff_account(world)
    signed = {}
    for name in ROLES:
        signed[name] = signed_in(world, name)
    return signed


def targets(world: World) -> list[Target]:
    """Every menu page, and the pages that name one object of unit A1 by URL."""
    a1 = unit_id(world, "A1")
    e1 = world.people["e1"]
    late = world.violation_id("e1", "late")
    period = "ky=month&nam=2026&thang=11"
    return [
        *[Target(item.href, item.permission) for item in common._NAV],
        Target(f"/vi-pham/{late}", "violations:read", "A1"),
        Target(f"/vi-pham?can_bo={e1}", "violations:read", "A1"),
        Target(f"/hom-nay?don_vi={a1}", "violations:read", "A1"),
        Target(f"/bang-thang?don_vi={a1}&thang=11&nam=2026", "violations:read", "A1"),
        Target(f"/bang-thang/ngay?can_bo={e1}&ngay=23/11/2026", "violations:read", "A1"),
        Target(f"/bao-cao?{period}&don_vi={a1}", "summaries:read", "A1"),
        Target(f"/bao-cao/tai-ve?{period}&don_vi={a1}&dinh_dang=csv", "summaries:read", "A1"),
        Target(f"/bao-cao/tai-ve?{period}&dinh_dang=xlsx", "summaries:read"),
        Target(f"/bao-cao/bieu-do.svg?{period}&don_vi={a1}", "summaries:read", "A1", 401),
        Target(f"/bao-cao/bieu-do-xu-huong.svg?{period}", "summaries:read", None, 401),
    ]


# Which of the cast's users see unit A1 (the unit head of A1, Nội vụ of agency A and of the
# province, the admin); the others' scopes hold other units (head_a2: A2, auditor_b: B).
SEES_A1 = {"admin", "head_a1", "noivu_a", "noivu_all", "hr_a"}


def expected(user: str, target: Target) -> int:
    if ROLES[user] not in PERMISSIONS[target.permission]:
        return 403
    if target.unit is not None and user not in SEES_A1:
        return 404
    return 200


def test_every_role_gets_each_page_as_the_permissions_table_says(
    world: World, clients: dict[str, TestClient]
) -> None:
    found, wanted = {}, {}
    for target in targets(world):
        for user, client in clients.items():
            answer = client.get(target.path, follow_redirects=False)
            found[(user, target.path)] = answer.status_code
            wanted[(user, target.path)] = expected(user, target)
            if answer.status_code in (403, 404) and ".svg" not in target.path:
                assert "<h1>" in answer.text and "Quay lại" in answer.text, target.path
    mismatches = {k: (found[k], wanted[k]) for k in found if found[k] != wanted[k]}
    assert not mismatches, mismatches


def test_a_stranger_is_sent_to_sign_in_from_every_page(world: World) -> None:
    stranger = browser(world)
    for target in targets(world):
        answer = stranger.get(target.path, follow_redirects=False)
        assert answer.status_code == target.anonymous, target.path
        if target.anonymous == 303:
            assert answer.headers["location"].startswith("/?next=/"), target.path


def test_the_menu_shows_each_role_the_pages_its_permissions_allow(
    clients: dict[str, TestClient],
) -> None:
    for user, client in clients.items():
        html = client.get("/khong-co-trang-nay").text  # any page with the menu
        menu = html.split('<nav aria-label="Chức năng" class="menu">')[1].split("</nav>")[0]
        for item in common._NAV:
            shown = f'href="{item.href}"' in menu
            assert shown == (ROLES[user] in PERMISSIONS[item.permission]), (user, item.href)
