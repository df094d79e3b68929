"""Real accounts get argon2id with RFC 9106's low-memory parameters; the suite's cheap profile
(tests/conftest.py) is opt-in, and a hash made under either profile verifies under the other."""

from __future__ import annotations

import pytest

from kycuong.settings import Settings
from store.users import hasher_for


def test_the_default_profile_is_rfc_9106_low_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KC_PASSWORD_HASH_PROFILE", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.password_hash_profile == "rfc9106_low_memory"
    stored = hasher_for(settings.password_hash_profile).hash("kycuong-demo")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_hashes_verify_across_profiles() -> None:
    strong = hasher_for("rfc9106_low_memory").hash("kycuong-demo")
    cheap = hasher_for("cheapest").hash("kycuong-demo")
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert hasher_for("cheapest").verify(strong, "kycuong-demo")
    assert hasher_for("rfc9106_low_memory").verify(cheap, "kycuong-demo")


def test_an_unknown_profile_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="password_hash_profile"):
        Settings(_env_file=None, password_hash_profile="md5")  # type: ignore[call-arg, arg-type]
