"""Refusals that quote what a person typed (a time, a score, a role, a card number, a file
name): the text comes back through ``kycuong.inputs.quoted``, so a pasted U+202E cannot
reverse the rest of the message and a pasted page of text is cut short."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from kycuong.errors import KcError
from kycuong.inputs import BIDI_CONTROLS
from services import accounts, rules, tabular
from services.requests import local_instant
from web.documents import _score

RLO = "\u202e"


def hidden(text: str) -> bool:
    return any(ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc" for ch in text)


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises((KcError, ValueError)) as caught:
        call()
    error = caught.value
    return error.message if isinstance(error, KcError) else str(error)


HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
CASES: dict[str, Callable[[str], object]] = {
    "giờ (đề nghị bổ sung giờ chấm)": lambda text: local_instant(date(2026, 11, 23), text, HANOI),
    "điểm kỷ luật": _score,
    "vai trò": accounts.role_of,
    "số thẻ": lambda text: tabular.normalise_card(text, False, tabular.CardFormat(digits=10)),
    "tên tệp quy định": lambda text: rules.parse(b"\xff\xfe\x00", f"{text}.toml"),
    "giá trị trong tệp quy định": lambda text: rules.parse(
        f'[policy]\nlate_grace_minutes = "{text}"\n'.encode(), "quy-dinh.toml"
    ),
}


@pytest.mark.parametrize("where", sorted(CASES))
def test_a_typed_override_is_shown_by_its_code_point_not_obeyed(where: str) -> None:
    message = refusal(lambda: CASES[where](f"12{RLO}34"))
    assert not hidden(message), message
    assert "12[U+202E]34" in message, message


@pytest.mark.parametrize("where", sorted(CASES))
def test_a_long_typed_value_is_cut_in_the_refusal(where: str) -> None:
    message = refusal(lambda: CASES[where]("9" * 5000 + "x"))
    # cut at 40 characters (60 for a value of a rules file, shown as JSON), marked "…"
    assert re.search(r"9{39,59}…", message) and "9" * 61 not in message, message
