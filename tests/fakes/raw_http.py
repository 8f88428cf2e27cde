"""A loopback HTTP/1.1 listener for tests that must send exact bytes: no framework between the
test and the socket. Subclasses answer each connection in :meth:`RawHTTPServer.answer`;
:func:`read_request` reads one request off it."""

from __future__ import annotations

import contextlib
import socket
import threading


def read_request(conn: socket.socket, buffered: bytes = b"") -> tuple[bytes, bytes] | None:
    """One request's body and what followed it on ``conn`` (``buffered``: bytes already read
    from it); None when the client hung up first."""
    while b"\r\n\r\n" not in buffered:
        got = conn.recv(65536)
        if not got:
            return None
        buffered += got
    head, _, rest = buffered.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(rest) < length:
        got = conn.recv(65536)
        if not got:
            return None
        rest += got
    return rest[:length], rest[length:]


class RawHTTPServer:
    """Listens on a free loopback port; each connection is handed to :meth:`answer` in a
    thread of its own (an error on it means the client hung up)."""

    def __init__(self) -> None:
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def answer(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # the accept timed out (to look at the stop flag) or was closed
                continue
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn, contextlib.suppress(OSError):
            self.answer(conn)
