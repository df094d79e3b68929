"""docker-compose.yml is accepted by Compose, with and without the simulator profile."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support import ROOT


def compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.parametrize(
    "profile",
    [[], ["--profile", "sim"], ["--profile", "cluster"]],
    ids=["default", "sim", "cluster"],
)
def test_compose_file_is_valid(profile: list[str]) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    env = dict(os.environ, KC_DEMO_SEED="true")
    result = subprocess.run(
        [*command, *profile, "config", "--services"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    services = set(result.stdout.split())
    assert {"db", "broker", "migrate", "broker-files", "ingest", "rules", "api"} <= services
    assert "simulator" in services  # docker-compose 1.x lists profiled services too
