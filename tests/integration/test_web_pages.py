"""The pages a unit head uses, against the real PostgreSQL: sign-in with a session cookie and
CSRF, the violations queue, evidence in local time, a review decision, scope as 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, update

from kycuong.settings import Settings
from store.db import db_session
from store.models import Device
from tests.integration.test_api import PASSWORD, World, build_world, world_settings
from tests.signin import bearer, signed_in
from tests.signin import browser as browser  # these three imported from here too
from tests.signin import csrf_of as csrf_of
from tests.signin import sign_in as sign_in
from tests.support import free_port

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def test_the_sign_in_page_is_vietnamese_and_refuses_a_wrong_password(world: World) -> None:
    client = browser(world)
    page = client.get("/")
    assert page.status_code == 200 and "Đăng nhập" in page.text
    assert '<label for="password">Mật khẩu</label>' in page.text
    wrong = sign_in(client, "head_a1", "sai-mật-khẩu")
    assert wrong.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in wrong.text
    assert "kc_session" not in wrong.cookies


def test_each_role_starts_on_a_page_it_may_open(world: World) -> None:
    # a Văn thư (HR clerk) may not read violations: sent to the queue, they met "Không có
    # quyền" right after signing in; Nội vụ reads reports, unit heads decide on violations
    for username, home in (("head_a1", "/vi-pham"), ("noivu_a", "/bao-cao"), ("hr_a", None)):
        client = browser(world)
        landed = sign_in(client, username).headers["location"]
        assert landed == home if home else landed not in ("/", "/vi-pham")
        start = client.get("/")
        assert start.status_code == 200, (username, start.url)
        assert home is None or start.url.path == home
        brand = re.search(r'<a class="brand" href="([^"]+)"', start.text)
        assert brand and brand.group(1) == "/"
    asked = browser(world)
    page = asked.get("/bang-thang?thang=11")  # asked before signing in: that page after
    answer = asked.post(
        "/dang-nhap",
        data={
            "username": "head_a1",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": re.search(r'name="next" value="([^"]*)"', page.text).group(1),  # type: ignore[union-attr]
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/bang-thang?thang=11"


def test_a_sign_in_without_the_form_token_is_refused(world: World) -> None:
    client = browser(world)
    client.get("/")
    answer = client.post(
        "/dang-nhap", data={"username": "head_a1", "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 403 and "kc_session" not in answer.cookies


def test_a_unit_head_sees_only_their_units_queue_with_local_times(world: World) -> None:
    client = browser(world)
    answer = sign_in(client, "head_a1")
    assert answer.status_code == 303 and answer.headers["location"] == "/vi-pham"
    assert client.get("/", follow_redirects=False).headers["location"] == "/vi-pham"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    queue = client.get("/vi-pham")
    assert queue.status_code == 200
    assert "Trần Văn e1" in queue.text and "Đi muộn 20 phút" in queue.text
    assert "Trần Văn e3" not in queue.text and "Trần Văn e4" not in queue.text
    late = world.violation_id("e1", "late")
    detail = client.get(f"/vi-pham/{late}")
    assert "23/11/2026 07:50" in detail.text  # the 07:50 punch in Hà Nội time, not 00:50Z
    assert "buổi sáng" in detail.text


def test_an_hr_clerk_signing_in_lands_on_a_page_of_their_own_not_a_403(world: World) -> None:
    client = browser(world)
    answer = sign_in(client, "hr_a")
    assert answer.status_code == 303
    landing = answer.headers["location"]
    assert landing != "/vi-pham" and landing.startswith("/")
    page = client.get(landing)
    assert page.status_code == 200 and "Không có quyền" not in page.text
    again = client.get("/", follow_redirects=False)  # signed in, nothing asked for
    assert again.status_code == 303 and again.headers["location"] == landing
    asked = client.get("/?next=/can-bo", follow_redirects=False)
    assert asked.headers["location"] == "/can-bo"


def test_another_units_violation_is_a_vietnamese_404(world: World) -> None:
    client = signed_in(world, "head_a2")
    theirs = world.violation_id("e1", "late")
    page = client.get(f"/vi-pham/{theirs}")
    assert page.status_code == 404
    assert "không tồn tại hoặc nằm ngoài phạm vi của bạn" in page.text


def test_a_review_needs_the_form_token_and_is_kept_with_who_and_reason(world: World) -> None:
    client = signed_in(world, "head_a1")
    late = world.violation_id("e1", "late")
    form = {"decision": "excused", "reason_kind": "business_trip", "note": "Họp ở tỉnh"}
    forged = client.post(f"/vi-pham/{late}/xu-ly", data=form, follow_redirects=False)
    assert forged.status_code == 403
    assert world.get("head_a1", f"/api/violations/{late}").json()["review"] is None
    token = csrf_of(client.get(f"/vi-pham/{late}").text)
    missing_reason = client.post(
        f"/vi-pham/{late}/xu-ly", data={**form, "reason_kind": "", "csrf": token}
    )
    assert missing_reason.status_code == 400 and "Cần chọn lý do" in missing_reason.text
    # the message sits under the reason list, and what was chosen and typed is still there
    assert re.search(
        r'<select id="reason_kind" name="reason_kind" aria-invalid="true" '
        r'aria-describedby="reason-error">.*?</select>\s*<p class="field-error" '
        r'id="reason-error" role="alert">Cần chọn lý do',
        missing_reason.text,
        re.S,
    )
    assert 'value="excused" checked> Có lý do' in missing_reason.text
    assert ">Họp ở tỉnh</textarea>" in missing_reason.text
    assert "<h2>Quyết định</h2>" in missing_reason.text  # nothing decided yet
    saved = client.post(
        f"/vi-pham/{late}/xu-ly", data={**form, "csrf": token}, follow_redirects=False
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert "Đã lưu quyết định." in page.text and "Đi công tác" in page.text
    assert "head_a1" in page.text
    # the form that stays says a decision stands and that saving again changes it
    assert "<h2>Đổi quyết định</h2>" in page.text
    assert "Đã quyết định: <strong>Có lý do</strong>" in page.text
    assert "Lưu quyết định mới" in page.text
    assert world.get("noivu_a", f"/api/violations/{late}").json()["review"] == "excused"


def test_a_page_without_a_session_returns_to_sign_in_and_then_to_the_page(world: World) -> None:
    client = browser(world)
    late = world.violation_id("e1", "late")
    answer = client.get(f"/vi-pham/{late}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/?next=/vi-pham/{late}"
    page = client.get(answer.headers["location"])
    back = client.post(
        "/dang-nhap",
        data={
            "username": "head_a1",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": f"/vi-pham/{late}",
        },
        follow_redirects=False,
    )
    assert back.headers["location"] == f"/vi-pham/{late}"


# What browsers read as another host: //x, /\\x (a backslash is a slash to them), /<tab>/x.
OFF_SITE = [
    "//evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "https://e.x",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_never_leads_to_another_site(world: World, target: str) -> None:
    client = browser(world)
    page = client.get("/", params={"next": target})
    assert target not in page.text  # the sign-in form does not carry it
    signed = client.post(
        "/dang-nhap",
        data={"username": "head_a1", "password": PASSWORD, "csrf": csrf_of(page.text)}
        | {"next": target},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/vi-pham"
    assert (
        client.get("/", params={"next": target}, follow_redirects=False).headers["location"]
        == "/vi-pham"
    )
    # The "Tiếp tục" link after a password change is a plain href: no server quoting saves it.
    done = client.get("/doi-mat-khau", params={"da_doi": "1", "next": target})
    assert done.status_code == 200 and 'href="/"' in done.text
    assert "evil.example" not in done.text and "e.x" not in done.text


def test_a_typed_date_is_read_as_dd_mm_yyyy_and_a_wrong_one_is_explained(world: World) -> None:
    client = signed_in(world, "head_a1")
    assert "Trần Văn e1" in client.get("/vi-pham", params={"tu": "23/11/2026"}).text
    later = client.get("/vi-pham", params={"tu": "24/11/2026"}).text
    assert "Không có vi phạm nào phù hợp." in later and "Đi muộn 20 phút" not in later
    wrong = client.get("/vi-pham", params={"tu": "31/02/2026"})
    assert wrong.status_code == 400 and "không phải ngày hợp lệ (nhập dạng dd/mm/yyyy" in wrong.text


def test_pages_load_nothing_from_another_host(world: World) -> None:
    client = signed_in(world, "head_a1")
    late = world.violation_id("e1", "late")
    for path in ("/", "/vi-pham", f"/vi-pham/{late}"):
        html = client.get(path).text
        assert not EXTERNAL.search(html), path
        for asset in re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html):
            assert client.get(asset).status_code == 200, asset


def test_noi_vu_reads_the_month_with_a_chart_and_downloads_the_xlsx(world: World) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    client = signed_in(world, "noivu_a")
    page = client.get("/bao-cao", params={"ky": "month", "nam": "2026", "thang": "11"})
    assert page.status_code == 200
    assert "Tháng 11/2026" in page.text or "tháng 11/2026" in page.text.lower()
    assert "Văn phòng Sở" in page.text
    src = re.search(r'<img src="(/bao-cao/bieu-do\.svg\?[^"]+)"', page.text)
    assert src, "the summary page shows no chart"
    chart = client.get(src.group(1).replace("&amp;", "&"))
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in chart.text and "Văn phòng Sở" in chart.text
    assert "style-src 'unsafe-inline'" in chart.headers["content-security-policy"]
    assert "Phòng Ngân sách" not in page.text  # agency B is outside Nội vụ A's scope
    assert not EXTERNAL.search(page.text)
    xlsx = client.get(
        "/bao-cao/tai-ve", params={"ky": "month", "nam": "2026", "thang": "11", "dinh_dang": "xlsx"}
    )
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith(
        "application/vnd.openxmlformats"
    )
    book = load_workbook(BytesIO(xlsx.content))
    cells = [str(c.value) for row in book.worksheets[0].iter_rows() for c in row if c.value]
    assert any("Văn phòng Sở" in c for c in cells)
    pdf = client.get(
        "/bao-cao/tai-ve", params={"ky": "month", "nam": "2026", "thang": "11", "dinh_dang": "pdf"}
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    bad = client.get("/bao-cao", params={"thang": "13"})
    assert bad.status_code == 400 and (
        'id="thang-error" role="alert">Tháng phải là một số từ 1 đến 12' in bad.text
    )


def test_a_unit_head_without_a_session_gets_no_xlsx(world: World) -> None:
    answer = browser(world).get("/bao-cao/tai-ve", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/?next=")


def unit_id(world: World, code: str) -> int:
    from sqlalchemy import select

    from store.db import db_session
    from store.models import Unit

    with db_session(world.engine) as db:
        found = db.scalar(select(Unit.id).where(Unit.code == code))
    assert found is not None
    return found


def test_the_month_grid_shows_a_symbol_per_day_and_links_to_the_day(world: World) -> None:
    client = signed_in(world, "head_a1")
    grid = client.get("/bang-thang", params={"don_vi": unit_id(world, "A1"), "thang": "11"})
    assert grid.status_code == 200 and "Bảng theo dõi tháng 11/2026" in grid.text
    assert "Trần Văn e1" in grid.text and "Trần Văn e3" not in grid.text
    e1 = world.people["e1"]
    cell = re.search(
        rf'href="(/bang-thang/ngay\?can_bo={e1}&ngay=23/11/2026)" title="([^"]*)">M</a>', grid.text
    )
    assert cell, "the late day's cell does not open the day"
    assert "Vào 07:50" in cell.group(2) and "Đi muộn 20 phút" in cell.group(2)
    assert "M:1" in grid.text
    a1 = unit_id(world, "A1")
    assert f'href="/bang-thang?don_vi={a1}&thang=10&nam=2026">← Tháng trước' in grid.text
    assert f'href="/bang-thang?don_vi={a1}&thang=12&nam=2026">Tháng sau →' in grid.text
    december = client.get("/bang-thang", params={"don_vi": a1, "thang": "12", "nam": "2026"})
    assert f"don_vi={a1}&thang=1&nam=2027" in december.text
    other = client.get("/bang-thang", params={"don_vi": unit_id(world, "A2")})
    assert other.status_code == 404 and "nằm ngoài phạm vi" in other.text
    wrong = client.get("/bang-thang", params={"thang": "13"})
    assert wrong.status_code == 400 and (
        'id="thang-error" role="alert">Tháng phải là một số từ 1 đến 12' in wrong.text
    )


def test_today_lists_the_unit_and_names_readers_that_are_behind(world: World) -> None:
    client = signed_in(world, "head_a1")
    page = client.get("/hom-nay", params={"don_vi": unit_id(world, "A1")})
    assert page.status_code == 200 and "Trần Văn e1" in page.text
    assert 'hx-trigger="every 60s"' in page.text
    assert "Tạm tính — máy chấm công GATE chưa gửi đủ dữ liệu." in page.text
    partial = client.get(
        "/hom-nay", params={"don_vi": unit_id(world, "A1")}, headers={"HX-Request": "true"}
    )
    assert "<html" not in partial.text and "Trần Văn e1" in partial.text


def test_an_expired_session_sends_the_refreshing_board_to_sign_in_not_into_it(
    world: World,
) -> None:
    # the board refreshes itself every minute; once the session is gone, htmx must leave the
    # page for sign-in (and come back), not paste the sign-in page inside the board
    stranger = browser(world)
    path = f"/hom-nay?don_vi={unit_id(world, 'A1')}"
    refresh = stranger.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
    assert refresh.status_code == 204 and not refresh.text
    assert refresh.headers["HX-Redirect"] == f"/?next=/hom-nay%3Fdon_vi%3D{unit_id(world, 'A1')}"
    whole = stranger.get(path, follow_redirects=False)  # a full page load: the usual redirect
    assert whole.status_code == 303 and whole.headers["location"].startswith("/?next=")


def test_a_form_sent_after_the_session_expired_returns_to_its_page_after_sign_in(
    world: World,
) -> None:
    # a decision typed on a phone and sent after the session ended: sign-in must lead back to
    # the page the form was on, not to the form's action (a GET there is 405 or 404)
    stranger = browser(world)
    for action, page in (
        ("/vi-pham/7/xu-ly", "/vi-pham/7"),
        ("/vi-pham/xu-ly-nhieu", "/vi-pham?tu=23%2F11%2F2026"),
    ):
        sent = stranger.post(
            action,
            data={"decision": "confirmed", "csrf": "stale"},
            headers={"Referer": f"http://testserver{page}"},
            follow_redirects=False,
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == "/?next=" + quote(page) + "&het_han=1"
        # ...and the sign-in page says why, and that what was sent is not saved (review 8)
        told = stranger.get(sent.headers["location"])
        assert "Phiên đăng nhập đã kết thúc nên việc vừa gửi chưa được lưu" in told.text
        assert f'name="next" value="{page}"' in told.text
    elsewhere = stranger.post(
        "/vi-pham/7/xu-ly",
        data={"decision": "confirmed"},
        headers={"Referer": "http://evil.example/vi-pham/7"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/?het_han=1"
    bare = stranger.post("/vi-pham/7/xu-ly", data={"decision": "confirmed"}, follow_redirects=False)
    assert bare.headers["location"] == "/?het_han=1"
    plain = stranger.get("/")  # signing in from the start: no such message
    assert "Phiên đăng nhập đã kết thúc" not in plain.text


def test_a_unit_head_confirms_two_in_bulk_and_each_is_recorded(world: World) -> None:
    client = signed_in(world, "head_a1")
    queue = client.get("/vi-pham")
    ids = sorted(int(i) for i in re.findall(r'name="ids" value="(\d+)"', queue.text))
    assert len(ids) == 2
    forged = client.post(
        "/vi-pham/xu-ly-nhieu", data={"ids": ids, "decision": "confirmed"}, follow_redirects=False
    )
    assert forged.status_code == 403
    done = client.post(
        "/vi-pham/xu-ly-nhieu",
        data={"ids": ids, "decision": "confirmed", "note": "", "csrf": csrf_of(queue.text)},
    )
    assert "Đã lưu quyết định cho 2/2 vi phạm." in done.text
    for vid in ids:
        assert world.get("head_a1", f"/api/violations/{vid}").json()["review"] == "confirmed"
    # decided from a filtered queue: back to the same filter, not the whole queue
    filtered = client.get("/vi-pham", params={"tu": "01/11/2026", "xu_ly": "all"})
    again = client.post(
        "/vi-pham/xu-ly-nhieu",
        data={
            "ids": ids[:1],
            "decision": "dismissed",
            "csrf": csrf_of(filtered.text),
            "tu": "01/11/2026",
            "xu_ly": "all",
            "den": "",
        },
        follow_redirects=False,
    )
    assert again.headers["location"] == "/vi-pham?tu=01%2F11%2F2026&xu_ly=all&luu=1-1"


def test_odd_ids_and_values_in_links_answer_a_vietnamese_page_never_json_or_500(
    world: World,
) -> None:
    client = signed_in(world, "head_a1")
    for path in ("/vi-pham/99999999999999999999", "/vi-pham/abc", "/vi-pham/-1"):
        page = client.get(path)
        assert page.status_code == 404 and "phạm vi của bạn" in page.text, path
    # an id that is none is said (404, as one outside the scope), not dropped for every one
    for path in ("/vi-pham?can_bo=abc", "/hom-nay?don_vi=abc", "/bang-thang?don_vi=abc"):
        page = client.get(path)
        assert page.status_code == 404 and "phạm vi của bạn" in page.text, path
    forged = client.get("/vi-pham", params={"luu": "Thông báo giả mạo"})
    assert "Thông báo giả mạo" not in forged.text
    assert forged.headers["cache-control"] == "no-store"


def test_a_sign_out_elsewhere_ends_the_web_session_and_guessing_is_throttled(world: World) -> None:
    client = signed_in(world, "head_a1")
    assert client.get("/vi-pham", follow_redirects=False).status_code == 200
    assert client.post("/api/auth/logout", headers=bearer(client, "head_a1")).status_code == 204
    assert client.get("/vi-pham", follow_redirects=False).status_code == 303  # signed out
    for _ in range(10):
        assert sign_in(client, "head_a1", "sai-mật-khẩu").status_code == 401
    locked = sign_in(client, "head_a1")  # even the right password, while locked
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "Đăng nhập sai quá nhiều lần" in locked.text


def test_a_web_sign_out_ends_the_session_on_the_server(world: World) -> None:
    client = signed_in(world, "head_a1")
    cookie = client.cookies["kc_session"]
    page = client.get("/vi-pham")
    answer = client.post("/dang-xuat", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303
    thief = browser(world)
    thief.cookies.set("kc_session", cookie)
    assert thief.get("/vi-pham", follow_redirects=False).status_code == 303
    assert sign_in(client, "head_a1").status_code == 303  # a new session works
    assert client.get("/vi-pham", follow_redirects=False).status_code == 200


def test_a_nul_character_in_a_form_is_refused_in_vietnamese(world: World) -> None:
    client = signed_in(world, "head_a1")
    late = world.violation_id("e1", "late")
    token = csrf_of(client.get(f"/vi-pham/{late}").text)
    form = {"decision": "excused", "reason_kind": "business_trip", "note": "Họp\x00 ở tỉnh"}
    answer = client.post(f"/vi-pham/{late}/xu-ly", data={**form, "csrf": token})
    assert answer.status_code == 400, answer.text[:300]
    assert "text/html" in answer.headers["content-type"]
    assert "Có ký tự điều khiển ẩn (U+0000)" in answer.text  # said as what it is


def test_today_shows_an_earlier_date_picked_with_the_days_either_side(world: World) -> None:
    client = signed_in(world, "head_a1")
    a1 = unit_id(world, "A1")
    page = client.get("/hom-nay", params={"don_vi": a1, "ngay": "23/11/2026"})
    assert page.status_code == 200
    assert "<h1>Thứ Hai, 23/11/2026</h1>" in page.text  # not "Hôm nay": it is another day
    assert 'id="ngay" name="ngay" value="23/11/2026"' in page.text
    assert re.search(r"Trần Văn e1</a></td>\s*<td[^>]*>07:50</td>", page.text)
    assert f'href="/hom-nay?ngay=22/11/2026&amp;don_vi={a1}" rel="prev">← Hôm trước' in page.text
    assert f'href="/hom-nay?ngay=24/11/2026&amp;don_vi={a1}" rel="next">Hôm sau →' in page.text
    assert f'href="/hom-nay?don_vi={a1}">Hôm nay</a>' in page.text
    # the refresh in place asks for the date shown, not today
    assert f'hx-get="/hom-nay?ngay=23/11/2026&amp;don_vi={a1}"' in page.text
    partial = client.get(
        "/hom-nay", params={"don_vi": a1, "ngay": "23/11/2026"}, headers={"HX-Request": "true"}
    )
    assert "<html" not in partial.text and "07:50" in partial.text


def test_today_without_records_points_to_the_last_date_that_has_them(world: World) -> None:
    client = signed_in(world, "head_a1")
    a1 = unit_id(world, "A1")
    page = client.get("/hom-nay", params={"don_vi": a1})
    assert page.status_code == 200 and "<h1>Hôm nay, " in page.text
    assert "Hôm sau →" not in page.text  # no day after today
    link = f'<a href="/hom-nay?ngay=23/11/2026&amp;don_vi={a1}">23/11/2026</a>'
    assert f"Ngày gần nhất có dữ liệu: {link}" in page.text
    earlier = client.get("/hom-nay", params={"don_vi": a1, "ngay": "23/11/2026"})
    assert "Ngày gần nhất có dữ liệu" not in earlier.text


def test_a_date_on_today_that_cannot_be_read_or_has_not_come_is_said_beside_the_field(
    world: World,
) -> None:
    client = signed_in(world, "head_a1")
    wrong = client.get("/hom-nay", params={"ngay": "31/02/2026"})
    assert wrong.status_code == 400 and "<h1>Hôm nay, " in wrong.text
    assert re.search(
        r'id="ngay-error" role="alert">“31/02/2026” không phải ngày hợp lệ', wrong.text
    )
    assert 'value="31/02/2026"' in wrong.text  # the typed text is kept to correct
    tomorrow = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() + timedelta(days=1)).strftime(
        "%d/%m/%Y"
    )
    future = client.get("/hom-nay", params={"ngay": tomorrow})
    assert future.status_code == 400 and "<h1>Hôm nay, " in future.text
    assert 'id="ngay-error" role="alert">Ngày này chưa đến' in future.text


def test_a_past_day_is_provisional_only_while_a_reader_has_not_sent_up_to_its_end(
    world: World,
) -> None:
    client = signed_in(world, "head_a1")
    day = {"don_vi": unit_id(world, "A1"), "ngay": "23/11/2026"}
    banner = "Tạm tính — máy chấm công GATE chưa gửi đủ dữ liệu."
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    with db_session(world.engine) as db:  # GATE has sent up to 17:00 of that day only
        db.execute(update(Device).values(sent_up_to=datetime(2026, 11, 23, 17, tzinfo=vn)))
    assert banner in client.get("/hom-nay", params=day).text
    with db_session(world.engine) as db:  # past that day's end, though behind now
        db.execute(update(Device).values(sent_up_to=datetime(2026, 11, 24, 0, 30, tzinfo=vn)))
    assert banner not in client.get("/hom-nay", params=day).text
    assert banner in client.get("/hom-nay", params={"don_vi": day["don_vi"]}).text  # today


def test_noi_vu_sees_each_flagged_person_with_a_link_to_their_days(pg_engine: Engine) -> None:
    """The summary lists the people past a threshold (NĐ 112/2020), each linking to their days."""
    settings = Settings(
        database_url=pg_engine.url.render_as_string(hide_password=False),
        mqtt_port=free_port(),
        api_secret="test-secret-of-at-least-thirty-two-bytes",
        absence_days_per_month_flag=0.5,  # e2 was absent one session without reason: half a day
    )
    world = build_world(pg_engine, settings)
    client = signed_in(world, "noivu_a")
    page = client.get("/bao-cao", params={"ky": "month", "nam": "2026", "thang": "11"})
    assert page.status_code == 200
    e2 = world.people["e2"]
    link = re.search(
        rf'<a href="(/vi-pham\?xu_ly=all&can_bo={e2}&tu=01/11/2026&den=30/11/2026)">'
        r"([^<]+)</a> \(([^)]+)\): ([^<]+)</li>",
        page.text,
    )
    assert link, "e2 is not listed with a link to their days"
    assert link.group(4) == "Nghỉ không lý do 0,5 ngày trong một tháng"
    days = client.get(link.group(1))
    assert days.status_code == 200
    assert link.group(2) in days.text and "Vắng mặt" in days.text
    assert f"can_bo={world.people['e1']}&tu=" not in page.text  # e1 was late once, no flag
