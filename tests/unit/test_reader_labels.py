"""What the readers pages print: every dead-letter code ingest can give has a Vietnamese
reason (mapped by code, whatever the stored message says), and clock offsets read as people
say them."""

from __future__ import annotations

import re

from kycuong.labels import DEAD_LETTER, dead_letter_label
from tests.support import ROOT
from web.devices_pages import clock_offset


def test_every_rejection_code_of_ingest_has_a_vietnamese_reason() -> None:
    source = (ROOT / "ingest" / "pipeline.py").read_text()
    codes = set(re.findall(r'(?:Rejection|quarantine)\(\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'return \(\s*"([a-z_]+)",', source))
    assert {"malformed_json", "too_old", "implausible_clock", "before_registration"} <= codes
    assert codes <= set(DEAD_LETTER), codes - set(DEAD_LETTER)
    assert dead_letter_label("too_old") == "Lượt chấm công quá cũ"
    assert dead_letter_label("new_code") == "Lý do khác (new_code)"


def test_clock_offsets_read_as_fast_or_slow() -> None:
    assert clock_offset(None) == "chưa đo"
    assert clock_offset(0.4) == "đúng giờ"
    assert clock_offset(-3) == "chậm 3 giây"
    assert clock_offset(420) == "nhanh 7 phút"
    assert clock_offset(-3600 * 8) == "chậm 8,0 giờ"
