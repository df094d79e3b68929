"""The API starts without the workbook and PDF libraries: they are imported by the request
that writes a document (openpyxl, XlsxWriter and fpdf2 hold ≈ 43 MB in every process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from kycuong.settings import Settings
from api.app import create_app
create_app(Settings())
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


def test_api_app_starts_without_workbook_and_pdf_libraries(tmp_path: Path) -> None:
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "KC_API_SECRET": "test-secret-of-thirty-two-bytes!!",
        "KC_DATABASE_URL": f"sqlite:///{tmp_path / 'kc.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "fastapi" in loaded and "sqlalchemy" in loaded  # the probe did start the app
    assert loaded.isdisjoint({"openpyxl", "xlsxwriter", "fpdf", "PIL"}), loaded
