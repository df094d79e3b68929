"""A value a page does not know (a hand-edited link, an old bookmark) is said, never silently
read as another: ``dinh_dang=zzz`` is not an XLSX file, ``xu_ly=zzz`` is not every decision,
``can_bo=abc`` is not every person. A filter's page comes back with the message beside the
field (400), a link to a file or a chart answers 400, an id that is none answers 404 as one
outside the scope does; never a 500, never the rows of another filter."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kycuong.settings import Settings
from tests.integration.test_api import World, build_world
from tests.signin import signed_in
from tests.support import free_port


@pytest.fixture(scope="module")
def world(pg_url: str) -> Iterator[World]:
    from store.db import make_engine
    from tests.support import truncate_all

    engine: Engine = make_engine(pg_url)
    truncate_all(engine)
    settings = Settings(
        database_url=pg_url,
        mqtt_port=free_port(),
        api_secret="test-secret-of-at-least-thirty-two-bytes",
    )
    yield build_world(engine, settings)
    engine.dispose()


@pytest.fixture(scope="module")
def browsers(world: World) -> dict[str, TestClient]:
    return {name: signed_in(world, name) for name in ("head_a1", "noivu_a", "admin", "hr_a")}


def shown(html: str) -> list[str]:
    """The alerts and the messages beside fields, as a person reads them."""
    return re.findall(r'<p class="(?:alert|field-error)"[^>]*>([^<]*)</p>', html)


def beside(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error"[^>]*>([^<]*)</p>', html)
    return found.group(1) if found else ""


# (who, page, the field the message is beside)
FILTERS = [
    ("head_a1", "/vi-pham?xu_ly=zzz", "xu_ly"),
    ("head_a1", "/vi-pham?loai=zzz", "loai"),
    ("head_a1", "/vi-pham?trang_thai=zzz", "trang_thai"),
    ("noivu_a", "/bao-cao?ky=zzz", "ky"),
    ("hr_a", "/nghi-phep?loai=zzz", "loai"),
    ("hr_a", "/nghi-phep?trang_thai=zzz", "trang_thai"),
    ("admin", "/thong-bao?trang_thai=zzz", "trang_thai"),
    ("admin", "/thong-bao?loai=zzz", "loai"),
    ("admin", "/nguoi-dung?vai_tro=zzz", "vai_tro"),
    ("admin", "/nguoi-dung?trang_thai=zzz", "trang_thai"),
    ("head_a1", "/de-nghi?trang_thai=zzz", "trang_thai"),
]


@pytest.mark.parametrize(("who", "path", "field"), FILTERS)
def test_a_filter_value_nobody_offers_is_said_beside_its_field(
    browsers: dict[str, TestClient], who: str, path: str, field: str
) -> None:
    answer = browsers[who].get(path)
    message = beside(answer.text, field)
    assert answer.status_code == 400, (path, answer.status_code, shown(answer.text))
    assert "“zzz” không hợp lệ; chọn một trong" in message, (path, shown(answer.text))


def test_the_queue_with_an_unknown_decision_filter_lists_no_rows(
    browsers: dict[str, TestClient],
) -> None:
    """Before: ``xu_ly=zzz`` listed every decision, as if "Tất cả" had been chosen."""
    client = browsers["head_a1"]
    assert 'name="ids"' in client.get("/vi-pham?xu_ly=all").text  # there are rows to show
    assert 'name="ids"' not in client.get("/vi-pham?xu_ly=zzz").text


# (who, link): a file or a picture asked for by a link, nothing to mark beside
LINKS = [
    ("noivu_a", "/bao-cao/tai-ve?dinh_dang=zzz"),
    ("noivu_a", "/bao-cao/tai-ve?ky=zzz&dinh_dang=csv"),
    ("noivu_a", "/bieu-mau/bang-cham-cong?thang=11&nam=2026&dinh_dang=zzz"),
]


@pytest.mark.parametrize(("who", "path"), LINKS)
def test_a_file_link_with_an_unknown_value_is_refused_not_another_file(
    browsers: dict[str, TestClient], who: str, path: str
) -> None:
    answer = browsers[who].get(path)
    assert answer.status_code == 400, (path, answer.status_code, answer.headers)
    assert "attachment" not in answer.headers.get("content-disposition", "")
    assert any("“zzz” không hợp lệ" in m for m in shown(answer.text)), shown(answer.text)


@pytest.mark.parametrize(
    "path",
    [
        "/bao-cao/bieu-do.svg?ky=zzz",
        "/bao-cao/bieu-do.svg?kho=zzz",
        "/bao-cao/bieu-do-xu-huong.svg?kho=zzz",
    ],
)
def test_a_chart_link_with_an_unknown_value_is_refused(
    browsers: dict[str, TestClient], path: str
) -> None:
    assert browsers["noivu_a"].get(path).status_code == 400


# (who, page, what the 404 names)
IDS = [
    ("head_a1", "/vi-pham?can_bo=abc", "Cán bộ"),
    ("head_a1", "/hom-nay?don_vi=abc", "Đơn vị"),
    ("head_a1", "/bang-thang?don_vi=abc", "Đơn vị"),
    ("noivu_a", "/bao-cao?don_vi=abc", "Đơn vị"),
    ("noivu_a", "/bieu-mau?don_vi=abc", "Đơn vị"),
    ("hr_a", "/can-bo?trang=abc", "Trang"),
    ("admin", "/thong-bao?truoc=abc", "Trang thông báo"),
]


@pytest.mark.parametrize(("who", "path", "what"), IDS)
def test_an_id_in_a_link_that_is_none_answers_404_not_the_page_without_it(
    browsers: dict[str, TestClient], who: str, path: str, what: str
) -> None:
    answer = browsers[who].get(path)
    assert answer.status_code == 404, (path, answer.status_code, shown(answer.text))
    assert any(m.startswith(f"{what} không tồn tại") for m in shown(answer.text)), shown(
        answer.text
    )


def test_a_value_given_by_its_vietnamese_label_is_read(browsers: dict[str, TestClient]) -> None:
    """What the refusal invites (the list's labels, with or without diacritics) works."""
    client = browsers["noivu_a"]
    csv = client.get("/bao-cao/tai-ve?thang=11&nam=2026&dinh_dang=CSV")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    queue = browsers["head_a1"].get("/vi-pham?xu_ly=tat ca&trang_thai=Đang hiệu lực")
    assert queue.status_code == 200 and 'name="ids"' in queue.text


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/summaries", {"format": "zzz"}, "format"),
        ("/api/violations", {"review": "zzz"}, "review"),
        ("/api/documents/timesheets", {"year": "2026", "month": "11", "format": "zzz"}, "format"),
    ],
)
def test_the_api_refuses_an_unknown_value_in_vietnamese(
    world: World, path: str, params: dict[str, str], field: str
) -> None:
    """The API never read an unknown value as another (422), and now says why in Vietnamese
    beside the accepted values, instead of pydantic's English."""
    answer = world.get("noivu_a", path, **params)
    assert answer.status_code == 422, answer.text
    (detail,) = answer.json()["error"]["details"]
    assert detail["field"] == f"query.{field}"
    assert detail["problem"].startswith(f"'{field}': giá trị \"zzz\" không hợp lệ; chọn một trong:")
    assert "Input should" not in detail["problem"] and " or " not in detail["problem"]


def test_a_refused_decision_is_said_beside_its_field_what_was_typed_kept(
    world: World, browsers: dict[str, TestClient]
) -> None:
    """The decision form's refusals through common.form_refused: "Có lý do" without a reason
    beside the reason, a note with U+202E beside the note, a decision nobody offers above."""
    from tests.signin import csrf_of

    late = world.violation_id("e1", "late")
    client = browsers["head_a1"]
    token = csrf_of(client.get(f"/vi-pham/{late}").text)
    form = {"decision": "excused", "reason_kind": "", "note": "Họp", "csrf": token}
    no_reason = client.post(f"/vi-pham/{late}/xu-ly", data=form)
    assert no_reason.status_code == 400
    assert beside(no_reason.text, "reason").startswith("Cần chọn lý do")
    hidden = {**form, "reason_kind": "business_trip", "note": "Họp\u202etàn"}
    refused = client.post(f"/vi-pham/{late}/xu-ly", data=hidden)
    assert refused.status_code == 400 and "(U+202E)" in beside(refused.text, "note")
    assert ">Họp\u202etàn</textarea>" in refused.text  # kept to be corrected, not retyped
    odd = client.post(f"/vi-pham/{late}/xu-ly", data={**form, "decision": "zzz"})
    assert odd.status_code == 400 and any("Hãy chọn một quyết định" in m for m in shown(odd.text))
    assert "Chưa xử lý" in client.get(f"/vi-pham/{late}").text  # nothing was written
