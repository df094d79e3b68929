"""The runner's own row formatting stays what the readers of those rows expect."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from runner.recompute import _evidence


@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=12))
def test_evidence_is_written_as_json_dumps_writes_it(punch_ids: list[int]) -> None:
    written = _evidence(tuple(punch_ids))
    assert written == json.dumps(punch_ids)
    assert tuple(json.loads(written)) == tuple(punch_ids)
