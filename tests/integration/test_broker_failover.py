"""A reader given several broker addresses when one of them refuses it (review of #10)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from devices.reader import Reader
from ingest.mosquitto import MosquittoProcess
from tests.support import wait_for


@pytest.fixture
def refusing_node() -> Iterator[int]:
    """A node that answers every CONNECT "not authorised" (CONNACK code 5), as a node with a
    stale accounts file does, and hangs up."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(1024)  # the CONNECT
                    conn.sendall(bytes([0x20, 0x02, 0x00, 0x05]))
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join(5)
    server.close()


def test_a_reader_refused_by_one_node_is_usable_once_the_next_accepts_it(
    mosquitto: MosquittoProcess, refusing_node: int
) -> None:
    """The bridges connect in the background (never holding a terminal): a refusal by the
    first node stuck the reader as refused for good, though paho went on to the next node
    and was connected there (every terminal answered 503 until the bridge was restarted)."""
    reader = Reader("D1", f"127.0.0.1:{refusing_node},127.0.0.1:{mosquitto.port}", 1883)
    try:
        reader.connect(wait=False)
        wait_for(lambda: reader.client.port == mosquitto.port, 30, "the next node tried")
        wait_for(lambda: reader.connected, 30, "the reader usable on the next node")
    finally:
        reader.close()
