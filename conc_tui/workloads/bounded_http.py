"""One blocking HTTP GET that ends on time: a total deadline, and a stop flag.

``urllib``'s timeout bounds each socket operation, not the request: a server that
sends one byte every few seconds keeps a read alive for ever, and nothing outside the
thread can interrupt it. Here every socket wait (connect, TLS handshake, send, each
read of the status line, headers and body) is cut into slices of at most
:data:`SLICE_S`; between slices the :class:`Cutoff` is checked, so a request ends by
its deadline, and within a slice of the run being stopped. ``http.client`` (what
``urllib`` runs on) still parses the response.

Name resolution (``getaddrinfo``) cannot be sliced; a numeric or loopback host
resolves at once.
"""

from __future__ import annotations

import http.client
import io
import os
import selectors
import socket
import ssl
import time
from collections.abc import Callable

SLICE_S = 0.1
"""The longest a socket wait lasts before the deadline and the stop flag are checked."""


class Stopped(Exception):
    """The run was stopped while this request was under way."""


class OutOfTime(Exception):
    """The request did not complete within its total deadline."""


class Cutoff:
    """When a request must give up: at its deadline, or when the run is stopped."""

    def __init__(self, seconds: float, stopped: Callable[[], bool] = lambda: False) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.stopped = stopped

    def check(self) -> None:
        """Raise :class:`Stopped` or :class:`OutOfTime` when it is time to give up."""
        if self.stopped():
            raise Stopped
        if time.monotonic() >= self.ends:
            raise OutOfTime

    def slice(self) -> float:
        """How long the next socket wait may last."""
        return max(0.001, min(SLICE_S, self.ends - time.monotonic()))


def _retrying(cutoff: Cutoff, sock: socket.socket) -> None:
    """Check the cutoff, then arm the socket for one slice."""
    cutoff.check()
    sock.settimeout(cutoff.slice())


class _SlicedReader(io.RawIOBase):
    """Reads from a socket in slices, so a trickle cannot outlast the cutoff."""

    def __init__(self, sock: socket.socket, cutoff: Cutoff, release: Callable[[], None]) -> None:
        super().__init__()
        self._sock = sock
        self._cutoff = cutoff
        self._release = release

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._release()
        super().close()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while True:
            _retrying(self._cutoff, self._sock)
            try:
                return self._sock.recv_into(buffer)
            except TimeoutError:
                continue  # nothing arrived in this slice: nothing was lost either


class _SlicedSocket:
    """The part of a socket ``http.client`` uses, with every wait sliced.

    Like a real socket, it stays open while a file made from it is open: the
    connection closes its socket as soon as the response says "Connection: close",
    before the body has been read.
    """

    def __init__(self, sock: socket.socket, cutoff: Cutoff) -> None:
        self._sock = sock
        self._cutoff = cutoff
        self._users = 1

    def makefile(self, mode: str, *args: object, **kwargs: object) -> io.BufferedReader:
        if "r" not in mode or "w" in mode:
            raise ValueError(f"only reading is sliced, not mode {mode!r}")
        self._users += 1
        return io.BufferedReader(_SlicedReader(self._sock, self._cutoff, self._release))

    def _release(self) -> None:
        self._users -= 1
        if self._users == 0:
            self._sock.close()

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _retrying(self._cutoff, self._sock)
            try:
                sent = self._sock.send(view)
            except TimeoutError:
                continue
            view = view[sent:]

    def close(self) -> None:
        self._release()


def _connect(host: str, port: int, cutoff: Cutoff) -> socket.socket:
    """A TCP connection to ``host``, each address tried until the cutoff."""
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            with selectors.DefaultSelector() as selector:
                selector.register(sock, selectors.EVENT_WRITE)
                while code:
                    cutoff.check()
                    if selector.select(cutoff.slice()):
                        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if code:
                            raise OSError(code, os.strerror(code))
                        break
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error or OSError(f"no address found for {host}")


_tls_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    # Loading the CA store costs milliseconds: once per process, not per request.
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


class _Connection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, cutoff: Cutoff) -> None:
        super().__init__(host, port)
        self.cutoff = cutoff

    def connect(self) -> None:
        self.sock = _SlicedSocket(_connect(self.host, self.port, self.cutoff), self.cutoff)


class _TLSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, cutoff: Cutoff) -> None:
        super().__init__(host, port)
        self.cutoff = cutoff

    def connect(self) -> None:
        raw = _connect(self.host, self.port, self.cutoff)
        try:
            tls = _tls().wrap_socket(raw, server_hostname=self.host, do_handshake_on_connect=False)
            while True:
                _retrying(self.cutoff, tls)
                try:
                    tls.do_handshake()
                    break
                except TimeoutError:
                    continue
        except BaseException:
            raw.close()
            raise
        self.sock = _SlicedSocket(tls, self.cutoff)


def open_connection(
    scheme: str, host: str, port: int | None, cutoff: Cutoff
) -> http.client.HTTPConnection:
    """An HTTP(S) connection whose every wait is bounded by ``cutoff`` (lazy connect)."""
    if scheme == "https":
        return _TLSConnection(host, port, cutoff)
    return _Connection(host, port, cutoff)
