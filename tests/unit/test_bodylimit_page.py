"""Review 12c: a member of staff who picks a 60 MB photo for a giải trình on a phone got the
raw JSON of the body limit instead of a page; a browser's form post gets a Vietnamese page."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from kycuong.bodylimit import BodyLimit


def _client() -> TestClient:
    app = FastAPI()

    @app.post("/cua-toi/giai-trinh/1")
    async def form(request: Request) -> dict[str, int]:
        return {"n": len(await request.body())}

    @app.post("/api/x")
    async def api(request: Request) -> dict[str, int]:
        return {"n": len(await request.body())}

    return TestClient(BodyLimit(app, default=1024))


def test_a_browser_form_over_the_limit_gets_a_vietnamese_page() -> None:
    answer = _client().post(
        "/cua-toi/giai-trinh/1", content=b"x" * 4096, headers={"Accept": "text/html,*/*"}
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "Tệp quá lớn" in answer.text and "tối đa 1 KB" in answer.text
    assert "Quay lại" in answer.text


def test_the_api_still_answers_json() -> None:
    answer = _client().post("/api/x", content=b"x" * 4096, headers={"Accept": "text/html"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"
