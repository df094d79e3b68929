"""The operator's log handler follows sys.stderr: a swapped and closed stream is never written."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from kycuong import logs


def test_records_go_to_the_stderr_of_their_time(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        first = io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        logs.configure()
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("kycuong.test").warning("Đầu đọc mất kết nối")
        written = second.getvalue()
        assert "WARNING kycuong.test: Đầu đọc mất kết nối" in written
        assert "Logging error" not in written
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
