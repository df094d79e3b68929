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
    env = dict(os.environ, KC_DEMO_SEED="true", KC_INGEST_PASSWORD="x" * 32, KC_API_SECRET="y" * 48)
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


def test_compose_ships_no_default_secret_and_keeps_plain_mqtt_on_loopback() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
    assert "${KC_API_SECRET:?" in text and "${KC_INGEST_PASSWORD:?" in text
    assert '"127.0.0.1:1883:1883"' in text and '"1883:1883"' not in text
    assert '"8883:8883"' in text


def test_the_cluster_nodes_read_the_provisioned_accounts_and_share_a_route_secret() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert '"broker-files", "--broker", "nats"' in text
    assert text.count("nats-auth:/etc/nats/auth:ro") == 3
    assert "include ./auth/accounts.conf" in (ROOT / "deploy/nats/nats.conf").read_text()
    assert text.count("nats-route://kc-route:${KC_NATS_ROUTE_PASSWORD:-}@") == 3


def test_the_cluster_profile_does_not_pin_the_ingest_to_one_node() -> None:
    """Losing nats-1 must not stop ingest: every node answers one name, ``nats`` (Compose's DNS
    returns the addresses of the live ones; the client tries each), and that is the host the
    cluster profile's instructions give."""
    import yaml

    text = (ROOT / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    for node in ("nats-1", "nats-2", "nats-3"):
        aliases = services[node].get("networks", {}).get("default", {}).get("aliases", [])
        assert "nats" in aliases, node
    assert "KC_MQTT_HOST=nats " in text and "KC_MQTT_HOST=nats-1" not in text
