"""Freed memory goes back to the system after a report (glibc's malloc_trim)."""

from __future__ import annotations

import platform

from kycuong.memory import release_memory


def test_release_memory_trims_on_glibc_and_is_harmless_elsewhere() -> None:
    on_glibc = platform.libc_ver()[0] == "glibc"
    assert release_memory() is on_glibc
    assert release_memory() is on_glibc  # twice in a row: nothing breaks, same answer
