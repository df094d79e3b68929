"""The clustered broker tier: three NATS nodes (JetStream, MQTT) started from the shipped
configuration as separate processes on this machine, with the accounts file the provisioning
command writes (every reader and the ingest sign in with their own passwords). One node is
SIGKILLed mid-stream: the cluster keeps taking punches, every punch is stored exactly once,
and the node rejoins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from devices.provision import ServiceAccount, nats_hash_password, render_nats_accounts
from devices.reader import Reader
from ingest.nats import NatsCluster
from ingest.nats import available as nats_available
from store.db import db_session
from store.models import Device
from tests.factories import org
from tests.integration.test_resilience import distinct_events, stored, stream
from tests.support import require, running_ingest, wait_for


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    require(nats_available(), "nats-server is not installed")
    nats = NatsCluster(tmp_path / "nats")
    yield nats  # started by the test, once its readers are provisioned
    nats.stop()


def routes(cluster: NatsCluster, index: int) -> int:
    answer = httpx.get(f"http://127.0.0.1:{cluster.nodes[index].monitor_port}/routez", timeout=2)
    return int(answer.json()["num_routes"])


def test_a_node_killed_mid_stream_loses_and_doubles_nothing_and_rejoins(
    pg_engine: Engine, cluster: NatsCluster, tmp_path: Path
) -> None:
    made = org(pg_engine, employees=40, devices=("D1", "D2", "D3", "D4"))
    with db_session(pg_engine) as db:
        accounts, skipped = render_nats_accounts(
            db.scalars(select(Device)),
            [ServiceAccount("kc-ingest", nats_hash_password("ingest-pw"))],
        )
    assert not skipped
    cluster.write_accounts(accounts)
    cluster.start()
    # The ingest worker on node 1; two readers on node 2 (the one killed), two on node 3.
    placement = {"D1": 1, "D2": 1, "D3": 2, "D4": 2}
    readers = [
        Reader(
            d,
            "127.0.0.1",
            cluster.nodes[n].mqtt_port,
            password=made["secrets"][d],
            outbox=tmp_path / f"{d}.outbox",
            resend_after=3.0,
        )
        for d, n in placement.items()
    ]
    total = 1600
    with running_ingest(
        pg_engine,
        cluster.nodes[0].mqtt_port,
        mqtt_protocol="3.1.1",
        mqtt_username="kc-ingest",
        mqtt_password="ingest-pw",
        ingest_flush_ms=20,
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
