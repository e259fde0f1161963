"""A hostile web server for the crawler's tests: loopback only, bounded in time.

It answers on 127.0.0.1 and, on the same port, on 127.0.0.2 (another host as far as a
URL is concerned), and records every request as ``(host, raw request path)`` so a test
can prove what the crawler fetched and from where. Routes:

* ``/robots.txt``: chosen by :attr:`HostileSite.robots` ("rules", a status such as
  "503", "drip", "away" for a redirect to 127.0.0.2, "loop");
* ``/``: an HTML page linking to :attr:`HostileSite.links` (raw hrefs, odd or not);
* ``/drip`` sends its headers, then one body byte every :attr:`drip_s` seconds;
  ``/drip-head`` drips the status line itself;
* ``/away`` redirects to 127.0.0.2, ``/loop-a`` and ``/loop-b`` redirect to each other,
  ``/hop`` redirects to ``/landed`` on the same host;
* ``/bad-status`` answers a status line with terminal escape sequences in it;
* anything else is a small HTML page that echoes the raw request path, so its digest
  changes if a client sends other bytes for the same link.

A drip ends after :attr:`drip_budget_s` or when the site closes, whichever is first,
so a crawler that never gives up still lets the test end.
"""

from __future__ import annotations

import contextlib
import html
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

ROBOTS_RULES = "User-agent: *\nDisallow: /private/\n"
OTHER_HOST = "127.0.0.2"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: HostileSite


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass  # a test server stays quiet

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        site = self.server.site
        host = self.server.server_address[0]
        path = self.path
        site.record(str(host), path)
        if path == "/robots.txt":
            self._robots(site)
        elif path == "/":
            links = "".join(f'<a href="{html.escape(h)}">x</a>\n' for h in site.links)
            self._send(200, f"<html><body>\n{links}</body></html>\n")
        elif path == "/drip":
            self._drip_body(site)
        elif path == "/drip-head":
            self._drip_raw(site, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        elif path == "/away":
            self._redirect(f"http://{OTHER_HOST}:{site.port}/stolen")
        elif path in ("/loop-a", "/loop-b"):
            self._redirect("/loop-b" if path == "/loop-a" else "/loop-a")
        elif path == "/hop":
            self._redirect("/landed")
        elif path == "/bad-status":
            self.wfile.write(b"HTTP/1.1 2\x1b]0;PWNED\x07 OK\r\n\r\n")
            self.close_connection = True
        else:
            self._send(200, f"<html><body><p>{html.escape(repr(path))}</p></body></html>\n")

    def _robots(self, site: HostileSite) -> None:
        mode = site.robots
        if mode == "rules":
            self._send(200, ROBOTS_RULES, "text/plain")
        elif mode == "drip":
            self._drip_body(site)
        elif mode == "away":
            self._redirect(f"http://{OTHER_HOST}:{site.port}/robots.txt")
        elif mode == "loop":
            self._redirect("/robots.txt")
        else:
            self._send(int(mode), "")

    def _send(self, status: int, text: str, content_type: str = "text/html") -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _drip_body(self, site: HostileSite) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
        self.wfile.write(head)
        self.wfile.flush()
        self._drip_raw(site, b"x" * 1000)

    def _drip_raw(self, site: HostileSite, data: bytes) -> None:
        site.drips_started.set()
        ends = time.monotonic() + site.drip_budget_s
        try:
            for i in range(len(data)):
                if site.closing.wait(site.drip_s) or time.monotonic() > ends:
                    break
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
        except OSError:
            pass  # the client gave up: what a good client does
        self.close_connection = True


class HostileSite:
    """Serve the hostile routes on 127.0.0.1 and 127.0.0.2 (same port) from threads."""

    def __init__(
        self,
        *,
        robots: str = "rules",
        links: tuple[str, ...] = (),
        drip_s: float = 0.5,
        drip_budget_s: float = 15.0,
    ) -> None:
        self.robots = robots
        self.links = links
        self.drip_s = drip_s
        self.drip_budget_s = drip_budget_s
        self.closing = threading.Event()
        self.drips_started = threading.Event()
        self.port = 0
        self._hits: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, host: str, path: str) -> None:
        with self._lock:
            self._hits.append((host, path))

    def hits(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._hits)

    def paths(self, host: str = "127.0.0.1") -> list[str]:
        return [path for h, path in self.hits() if h == host]

    def start(self) -> str:
        first = self._serve("127.0.0.1", 0)
        self.port = first.server_address[1]
        # No 127.0.0.2 here: the tests that need it check other_host_up.
        with contextlib.suppress(OSError):
            self._serve(OTHER_HOST, self.port)
        return self.url

    @property
    def other_host_up(self) -> bool:
        return len(self._servers) == 2

    def _serve(self, host: str, port: int) -> _Server:
        server = _Server((host, port), _Handler)
        server.site = self
        # Loopback only, whatever the caller passes.
        assert server.socket.family == socket.AF_INET and host.startswith("127.")
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        return server

    def close(self) -> None:
        self.closing.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> HostileSite:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
