"""A ZKTeco terminal emulator speaking the ZK protocol over TCP, enough for pyzk's client:
connect, serial number, time, sizes, users and attendance records (read_with_buffer).

For tests and demos of the ZKTeco bridge on a laptop: the real terminals are on the wall.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from struct import pack, unpack
from zoneinfo import ZoneInfo

CMD_USERTEMP_RRQ, CMD_OPTIONS_RRQ, CMD_ATTLOG_RRQ = 9, 11, 13
CMD_GET_FREE_SIZES, CMD_GET_TIME = 50, 201
CMD_CONNECT, CMD_EXIT = 1000, 1001
CMD_DATA, CMD_READ_WITH_BUFFER, CMD_ACK_OK = 1501, 1503, 2000
MAGIC = (0x5050, 0x7D82)


def encode_time(t: datetime) -> int:
    """The terminal's packed local time (zkemsdk EncodeTime)."""
    return (
        ((t.year % 100) * 12 * 31 + (t.month - 1) * 31 + t.day - 1) * 86400
        + (t.hour * 60 + t.minute) * 60
        + t.second
    )


@dataclass
class Terminal:
    """The terminal's state: serial, users (uid, user id, name, card), records, clock skew."""

    serial: str
    users: list[tuple[int, str, str, int]] = field(default_factory=list)
    records: list[tuple[str, datetime, int]] = field(
        default_factory=list
    )  # user id, local time, punch
    clock_offset: timedelta = timedelta(0)
    timezone: str = "Asia/Ho_Chi_Minh"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        """The terminal's wall clock: local time, no zone, off by ``clock_offset``."""
        return datetime.now(ZoneInfo(self.timezone)).replace(tzinfo=None) + self.clock_offset

    def add_record(self, user_id: str, at: datetime, punch: int = 0) -> None:
        with self.lock:
            self.records.append((user_id, at, punch))


class _Handler(socketserver.BaseRequestHandler):
    server: ZkEmulator

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _reply(self, command: int, session: int, reply_id: int, payload: bytes = b"") -> None:
        packet = pack("<4H", command, 0, session, reply_id) + payload
        self.request.sendall(pack("<HHI", *MAGIC, len(packet)) + packet)

    def handle(self) -> None:
        terminal, session = self.server.terminal, 0x4D2
        try:
            while True:
                _, _, length = unpack("<HHI", self._read(8))
                packet = self._read(length)
                command, _, _, reply_id = unpack("<4H", packet[:8])
                body = packet[8:]
                if command == CMD_CONNECT:
                    self._reply(CMD_ACK_OK, session, reply_id)
                elif command == CMD_EXIT:
                    self._reply(CMD_ACK_OK, session, reply_id)
                    return
                elif command == CMD_OPTIONS_RRQ:
                    key = body.split(b"\x00")[0].decode()
                    value = terminal.serial if key == "~SerialNumber" else ""
                    self._reply(CMD_ACK_OK, session, reply_id, f"{key}={value}\x00".encode())
                elif command == CMD_GET_TIME:
                    self._reply(
                        CMD_ACK_OK, session, reply_id, pack("<I", encode_time(terminal.now()))
                    )
                elif command == CMD_GET_FREE_SIZES:
                    with terminal.lock:
                        fields = [0] * 20
                        fields[4], fields[8] = len(terminal.users), len(terminal.records)
                        fields[15], fields[16] = 3000, 100000
                    self._reply(
                        CMD_ACK_OK, session, reply_id, pack("<20i", *fields) + pack("<3i", 0, 0, 0)
                    )
                elif command == CMD_READ_WITH_BUFFER:
                    _, what, _, _ = unpack("<bhii", body[:11])
                    self._reply(CMD_DATA, session, reply_id, self._table(what))
                else:  # free data, enable/disable device, anything else: fine
                    self._reply(CMD_ACK_OK, session, reply_id)
        except (ConnectionError, OSError):
            return

    def _table(self, what: int) -> bytes:
        terminal = self.server.terminal
        with terminal.lock:
            if what == CMD_USERTEMP_RRQ:
                rows = [
                    pack(
                        "<HB8s24sIx7sx24s",
                        uid,
                        0,
                        b"",
                        name.encode()[:24],
                        card,
                        b"1",
                        user_id.encode(),
                    )
                    for uid, user_id, name, card in terminal.users
                ]
            else:
                uids = {user_id: uid for uid, user_id, _, _ in terminal.users}
                rows = [
                    pack(
                        "<H24sB4sB8s",
                        uids.get(user_id, 0),
                        user_id.encode(),
                        1,
                        pack("<I", encode_time(at)),
                        punch,
                        b"",
                    )
                    for user_id, at, punch in terminal.records
                ]
        data = b"".join(rows)
        return pack("<I", len(data)) + data


class ZkEmulator(socketserver.ThreadingTCPServer):
    """``with ZkEmulator(terminal) as zk: ...`` serves on 127.0.0.1:``zk.port``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, terminal: Terminal, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.terminal = terminal
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> ZkEmulator:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
