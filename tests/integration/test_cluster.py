"""The clustered broker tier: three NATS nodes (JetStream, MQTT) started from the shipped
configuration as separate processes on this machine, with the accounts file the provisioning
command writes (every reader and the ingest sign in with their own passwords). One node is
SIGKILLed mid-stream: the cluster keeps taking punches, every punch is stored exactly once,
and the node rejoins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from devices.provision import ServiceAccount, nats_hash_password, render_nats_accounts
from devices.reader import Reader
from ingest.nats import NatsCluster
from ingest.nats import available as nats_available
from store.db import db_session
from store.models import Device, Punch
from tests.factories import org
from tests.integration.test_resilience import distinct_events, stored, stream
from tests.support import require, running_nats_ingest, wait_for


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    require(nats_available(), "nats-server is not installed")
    nats = NatsCluster(tmp_path / "nats")
    yield nats  # started by the test, once its readers are provisioned
    nats.stop()


INGEST_PASSWORD = "ingest-pw"


def routes(cluster: NatsCluster, index: int) -> int:
    answer = httpx.get(f"http://127.0.0.1:{cluster.nodes[index].monitor_port}/routez", timeout=2)
    return int(answer.json()["num_routes"])


def provisioned(engine: Engine, cluster: NatsCluster, **org_args: Any) -> dict[str, Any]:
    """An organisation (tests.factories.org) whose readers and the ingest account (password
    ``INGEST_PASSWORD``) are written to the cluster's accounts file, as provisioning does."""
    made = org(engine, **org_args)
    with db_session(engine) as db:
        accounts, skipped = render_nats_accounts(
            db.scalars(select(Device)),
            [ServiceAccount("kc-ingest", nats_hash_password(INGEST_PASSWORD))],
        )
    assert not skipped
    cluster.write_accounts(accounts)
    return made


def make_reader(
    made: dict[str, Any], tmp_path: Path, device: str, host: str, port: int = 1883, **extra: Any
) -> Reader:
    """``device``'s reader with its password and an outbox, resending after 3 s; ``host`` one
    address, or every node's as "a:1883,b:1883" (``port`` then unused, as the settings give)."""
    return Reader(
        device,
        host,
        port,
        password=made["secrets"][device],
        outbox=tmp_path / f"{device}.outbox",
        resend_after=3.0,
        **extra,
    )


def test_a_node_killed_mid_stream_loses_and_doubles_nothing_and_rejoins(
    pg_engine: Engine, cluster: NatsCluster, tmp_path: Path
) -> None:
    made = provisioned(pg_engine, cluster, employees=40, devices=("D1", "D2", "D3", "D4"))
    cluster.start()
    # The ingest worker on node 1; two readers on node 2 (the one killed), two on node 3.
    placement = {"D1": 1, "D2": 1, "D3": 2, "D4": 2}
    readers = [
        make_reader(made, tmp_path, d, "127.0.0.1", cluster.nodes[n].mqtt_port)
        for d, n in placement.items()
    ]
    total = 1600
    with running_nats_ingest(
        pg_engine,
        cluster.nodes[0].mqtt_port,
        INGEST_PASSWORD,
    ) as worker:
        for reader in readers:
            reader.connect(timeout=30)
        publishing = stream(readers, made["cards"], total, rate_per_s=200)
        try:
            wait_for(lambda: stored(pg_engine) >= 300, 60, "a part of the stream")
            cluster.kill(1)
            at_kill = stored(pg_engine)
            assert at_kill < total, "the kill must land mid-stream"
            # The two surviving nodes keep storing the punches of the readers on node 3.
            wait_for(lambda: stored(pg_engine) >= at_kill + 200, 60, "progress without node 2")
            cluster.start(1)
            wait_for(lambda: routes(cluster, 1) == 2, 30, "node 2 back in the cluster")
            publishing.join(300)
            for reader in readers:
                reader.wait_receipts(timeout=180)
            worker.wait_idle(10)
        finally:
            for reader in readers:
                reader.close()
    assert stored(pg_engine) == distinct_events(pg_engine) == total


def test_clients_given_every_node_move_on_when_theirs_is_killed_and_it_stays_down(
    pg_engine: Engine, cluster: NatsCluster, tmp_path: Path
) -> None:
    """No load balancer in front: the ingest worker and the readers are given the three nodes'
    addresses (KC_MQTT_HOST="a:1883,b:1883,c:1883"). The node the worker and two readers are
    on is SIGKILLed mid-stream and never comes back: they move to the next node, and every
    punch is stored exactly once."""
    made = provisioned(pg_engine, cluster, employees=40, devices=("D1", "D2", "D3", "D4"))
    cluster.start()
    ports = [node.mqtt_port for node in cluster.nodes]

    def nodes_from(first: int) -> str:
        return ",".join(f"127.0.0.1:{ports[(first + i) % 3]}" for i in range(3))

    total = 1600
    with running_nats_ingest(
        pg_engine,
        0,
        INGEST_PASSWORD,
        mqtt_host=nodes_from(1),
    ) as worker:
        # Node 2 first; a node of a cluster just formed may drop the first MQTT connection
        # while it makes the account's streams (JetStream timeout under load), and the worker
        # is then on the next: the node killed is the one it is on once connected.
        victim = ports.index(worker._client.port)
        other = (victim + 1) % 3
        placement = {"D1": victim, "D2": victim, "D3": other, "D4": other}
        readers = [make_reader(made, tmp_path, d, nodes_from(n)) for d, n in placement.items()]
        for reader in readers:
            reader.connect(timeout=30)
        assert [r.client.port for r in readers] == [ports[n] for n in placement.values()]
        publishing = stream(readers, made["cards"], total, rate_per_s=200)
        try:
            wait_for(lambda: stored(pg_engine) >= 300, 60, "a part of the stream")
            cluster.kill(victim)
            at_kill = stored(pg_engine)
            assert at_kill < total, "the kill must land mid-stream"
            publishing.join(300)
            assert not publishing.is_alive()
            for reader in readers:
                reader.wait_receipts(timeout=180)
            worker.wait_idle(10)
            assert worker._client.port != ports[victim]
            assert all(r.client.port != ports[victim] and r.connected for r in readers)
        finally:
            for reader in readers:
                reader.close()
    assert cluster.nodes[victim].proc is None  # it never came back
    assert stored(pg_engine) == distinct_events(pg_engine) == total


def test_the_bridges_and_the_simulator_work_against_the_cluster_with_settings_only(
    pg_engine: Engine, cluster: NatsCluster, tmp_path: Path
) -> None:
    """The ZKTeco bridge, the Hikvision bridge and the simulator, each on another node, given
    only the cluster's address and their readers' passwords: every punch stored, confirmed."""
    import threading
    from datetime import date, timedelta

    from fastapi.testclient import TestClient

    from devices.hikvision import HikConfig, HikTerminal, create_app
    from devices.simulator import Badge, office_day, play
    from devices.zk_emulator import Terminal, ZkEmulator
    from devices.zkteco import BridgeConfig, Position, TerminalBridge, TerminalConfig
    from tests.integration.test_hikvision_bridge import event

    made = provisioned(
        pg_engine, cluster, employees=6, devices=("ZK-1", "HIK-1", "SIM-1"), card_prefix=""
    )
    cards, secrets = made["cards"], made["secrets"]
    cluster.start()
    zk_port, hik_port, sim_port = (n.mqtt_port for n in cluster.nodes)
    terminal = Terminal(
        "CKRS-N1", users=[(i + 1, f"E{i}", "A", int(c)) for i, c in enumerate(cards)]
    )
    start = terminal.now().replace(microsecond=0) - timedelta(hours=1)
    for i in range(5):
        terminal.add_record(f"E{i}", start + timedelta(minutes=i), 0)
    day = date.today() - timedelta(days=1)
    plan = office_day([Badge(f"E{i}", c) for i, c in enumerate(cards)], ["SIM-1"], day, seed=2)
    sim_punches = sum(1 for e in plan.events if e.kind == "punch")
    with running_nats_ingest(
        pg_engine,
        cluster.nodes[0].mqtt_port,
        INGEST_PASSWORD,
    ):
        with ZkEmulator(terminal) as zk:
            config = BridgeConfig("127.0.0.1", zk_port, tmp_path / "zk", 0.2, (), 2.0)
            zk_bridge = TerminalBridge(
                config,
                TerminalConfig("ZK-1", "127.0.0.1", zk.port, mqtt_password=secrets["ZK-1"]),
            )
            runner = threading.Thread(target=zk_bridge.run, daemon=True)
            runner.start()
            try:
                wait_for(
                    lambda: Position.load(zk_bridge.state_path).confirmed == 5,
                    60,
                    "the ZKTeco bridge's records confirmed through the cluster",
                )
            finally:
                zk_bridge.stop()
                runner.join(30)
        hik = HikConfig(
            "127.0.0.1",
            hik_port,
            (HikTerminal("HIK-1", "terminal-pw", mqtt_password=secrets["HIK-1"]),),
            state_dir=tmp_path / "hik",
        )
        with TestClient(create_app(hik)) as client:
            answer = client.post(
                "/isapi/events", json=event(900, card=cards[0]), auth=("HIK-1", "terminal-pw")
            )
        assert answer.status_code == 200  # answered OK only on the server's receipt
        assert play(plan, "127.0.0.1", sim_port, secrets={"SIM-1": secrets["SIM-1"]}) == len(
            plan.events
        )
    with db_session(pg_engine) as db:
        by_device = {
            d: len(list(db.scalars(select(Punch.event_id).where(Punch.device_id == d))))
            for d in ("ZK-1", "HIK-1", "SIM-1")
        }
    assert by_device == {"ZK-1": 5, "HIK-1": 1, "SIM-1": sim_punches}


def test_the_cluster_over_tls_stores_punches_and_refuses_plain_clients(
    pg_engine: Engine, tmp_path: Path, broker_certs: Path
) -> None:
    """The shipped TLS listener (deploy/nats/mqtt-tls.conf) with a certificate made the
    documented way (deploy/mosquitto/make-certs.sh): the ingest and a reader given the CA and
    every node store and confirm punches, also after the node they were on is SIGKILLed; a
    client without TLS gets nowhere."""
    require(nats_available(), "nats-server is not installed")
    certs = broker_certs
    cluster = NatsCluster(tmp_path / "nats", tls=(certs / "server.crt", certs / "server.key"))
    made = provisioned(pg_engine, cluster, employees=10, devices=("T1", "T2"))
    try:
        cluster.start()
        assert "tls://127.0.0.1" in cluster.log(0)
        every_node = ",".join(f"127.0.0.1:{n.mqtt_port}" for n in cluster.nodes)
        ca = str(certs / "ca.crt")
        plain = Reader("T2", every_node, 1883, password=made["secrets"]["T2"])
        with pytest.raises(ConnectionError):
            plain.connect(timeout=3)
        plain.close()
        reader = make_reader(made, tmp_path, "T1", every_node, tls_ca=ca)
        with running_nats_ingest(
            pg_engine,
            0,
            INGEST_PASSWORD,
            mqtt_host=every_node,
            mqtt_tls_ca=ca,
        ):
            reader.connect(timeout=30)
            try:
                publishing = stream([reader], made["cards"], 200, rate_per_s=100)
                wait_for(lambda: stored(pg_engine) >= 50, 60, "punches over TLS")
                cluster.kill(0)  # the node both are on
                publishing.join(120)
                reader.wait_receipts(timeout=180)
                assert reader.client.port != cluster.nodes[0].mqtt_port
            finally:
                reader.close()
    finally:
        cluster.stop()
    assert stored(pg_engine) == distinct_events(pg_engine) == 200


def test_every_node_down_at_once_then_back_the_worker_and_a_reader_carry_on(
    pg_engine: Engine, cluster: NatsCluster, tmp_path: Path
) -> None:
    """The whole cluster SIGKILLed (a power cut of the rack) and started again: the worker and
    a reader given every node find one again by themselves (their backoff is bounded), the
    punch made while all were down and the one after are stored, each once."""
    made = provisioned(pg_engine, cluster, employees=5, devices=("D1",))
    cluster.start()
    every = ",".join(f"127.0.0.1:{n.mqtt_port}" for n in cluster.nodes)
    reader = make_reader(made, tmp_path, "D1", every)
    cards = made["cards"]
    with running_nats_ingest(
        pg_engine,
        0,
        INGEST_PASSWORD,
        mqtt_host=every,
    ):
        reader.connect(timeout=30)
        try:
            reader.punch("ALL-DOWN-1", cards[0], datetime.now(UTC))
            wait_for(lambda: stored(pg_engine) == 1, 30, "the punch before")
            for index in range(3):
                cluster.kill(index)
            wait_for(lambda: not reader.connected, 30, "the reader to see the loss")
            reader.punch("ALL-DOWN-2", cards[1], datetime.now(UTC))  # kept in the outbox
            cluster.start()
            reader.punch("ALL-DOWN-3", cards[2], datetime.now(UTC))
            wait_for(lambda: stored(pg_engine) == 3, 120, "the punches after the restart")
            reader.wait_receipts(timeout=60)
        finally:
            reader.close()
    assert stored(pg_engine) == distinct_events(pg_engine) == 3
