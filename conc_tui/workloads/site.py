"""A small generated website served by aiohttp on loopback, for the web workload.

The site is deterministic for a given ``(pages, seed)``: the same links and the same
bytes on every start, so crawls under different models (each with its own server on
its own port) produce the same checksum. Links are root-relative or relative, never
absolute with the port in them, for the same reason.

What is on it:

* ``/`` links to every page (up to :data:`INDEX_LINK_LIMIT`), so a crawler's frontier
  widens after a single fetch and an asynchronous crawl is limited by concurrency, not
  by the depth of the link graph;
* ``/page/<n>.html`` for ``n`` in ``0 .. pages-1``, each linking to ``next`` (so every
  page is reachable even past the index limit) and to about eight seeded others, in
  mixed forms (``/page/3.html``, ``3.html``, ``./3.html``, ``../page/3.html``), some
  with ``#fragments`` and one duplicated;
* ``/data/<k>.json`` resources served as JSON, which a crawler fetches but does not
  parse;
* traps: an off-host link, a ``mailto:`` link and links into ``/private/``, which
  ``/robots.txt`` disallows.

Every response except ``/__stats`` waits ``latency_ms`` (times ``1 ± jitter``, seeded
per path) before it is sent. ``GET /__stats`` returns the hit count of every path,
which tests use to prove a crawl fetched nothing twice and nothing it should not.

The server runs in a child process (:class:`LocalSite`) so that serving never competes
with the crawler for its GIL; ``python -m conc_tui.workloads.site`` is that child.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import IO

from aiohttp import web

from conc_tui.lifecycle import watch
from conc_tui.messages import Preparation, SiteReady, SiteStarting
from conc_tui.workloads.base import WorkloadError

INDEX_LINK_LIMIT = 20_000
"""The index lists at most this many pages (about 0.7 MB), below the crawler's byte cap;
later pages are still reachable through every page's ``next`` link."""
LINKS_PER_PAGE = 8
DATA_EVERY = 20
"""One JSON resource per this many pages (at least one)."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
OFFSITE_URL = "http://offsite.invalid/x"
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
STATS_PATH = "/__stats"
READY_PREFIX = "READY "

_PAGE_RE = re.compile(r"/page/(0|[1-9][0-9]*)\.html")
_DATA_RE = re.compile(r"/data/(0|[1-9][0-9]*)\.json")
_PRIVATE_RE = re.compile(r"/private/(0|[1-9][0-9]*)\.html")

_WORDS = (
    "worker", "lock", "queue", "thread", "process", "task", "loop", "core",
    "cache", "page", "link", "crawl", "fetch", "latency", "socket", "buffer",
    "event", "future", "await", "yield", "pool", "shift", "secretary", "workspace",
    "tool", "call", "hold", "wait", "parallel", "serial", "batch", "frame",
)  # fmt: skip

_HITS_KEY = web.AppKey("hits", Counter)


def data_count(pages: int) -> int:
    """How many JSON resources a site with ``pages`` pages has."""
    return max(1, pages // DATA_EVERY)


def crawlable_paths(pages: int) -> list[str]:
    """Every path a correct crawler fetches on this site, index first.

    That is the index, every page and every JSON resource; not ``/robots.txt`` (read
    before the crawl, not crawled) and not ``/private/`` (disallowed).
    """
    paths = ["/"]
    paths.extend(f"/page/{n}.html" for n in range(pages))
    paths.extend(f"/data/{k}.json" for k in range(data_count(pages)))
    return paths


def crawlable_count(pages: int) -> int:
    """How many URLs a correct crawler fetches on a site with ``pages`` pages."""
    return 1 + pages + data_count(pages)


def _check_args(pages: int, latency_ms: float, jitter: float) -> None:
    if pages < 1:
        raise WorkloadError(f"the site needs at least 1 page, got {pages}")
    if not 0 <= latency_ms <= 60_000:
        raise WorkloadError(f"site latency must be between 0 and 60000 ms, got {latency_ms:g}")
    if not 0 <= jitter < 1:
        raise WorkloadError(
            f"site jitter must be a fraction from 0 up to (not including) 1, got {jitter:g}"
        )


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(count))


def _link_forms(target: int, rng: random.Random) -> str:
    """One href to ``/page/<target>.html`` as seen from inside ``/page/``, in a random form."""
    form = rng.randrange(4)
    href = (
        f"/page/{target}.html",
        f"{target}.html",
        f"./{target}.html",
        f"../page/{target}.html",
    )[form]
    if rng.random() < 0.25:
        href += f"#sec-{rng.randrange(1, 4)}"
    return href


def render_index(pages: int) -> str:
    """The HTML of ``/``."""
    shown = min(pages, INDEX_LINK_LIMIT)
    items = "\n".join(f'<li><a href="/page/{n}.html">page {n}</a></li>' for n in range(shown))
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>conc-tui local site: {pages} pages</title></head>\n<body>\n"
        f'<h1 id="top">conc-tui local site</h1>\n'
        '<p><a href="#top">top</a> <a href="/private/0.html">staff only</a> '
        f'<a href="{OFFSITE_URL}">elsewhere</a> '
        '<a href="mailto:nobody@offsite.invalid">mail</a></p>\n'
        f"<ul>\n{items}\n</ul>\n</body></html>\n"
    )


def render_page(n: int, pages: int, seed: int) -> str:
    """The HTML of ``/page/<n>.html``: seeded text and about eight links."""
    rng = random.Random(f"{seed}/page/{n}")
    targets = rng.sample(range(pages), min(LINKS_PER_PAGE, pages))
    hrefs = [_link_forms(t, rng) for t in targets]
    # A duplicate of the first link: the crawler must not fetch it twice.
    hrefs.append(hrefs[0])
    hrefs.append(f"/data/{n % data_count(pages)}.json")
    if n % 4 == 0:
        hrefs.append(f"/private/{n}.html")
        hrefs.append(OFFSITE_URL)
    links = "\n".join(f'<li><a href="{h}">link {i}</a></li>' for i, h in enumerate(hrefs))
    sections = "\n".join(
        f'<h2 id="sec-{s}">section {s}</h2>\n<p>{_words(rng, 30)}</p>' for s in range(1, 4)
    )
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>page {n}</title></head>\n<body>\n"
        f'<p><a href="/">home</a> <a href="{(n + 1) % pages}.html">next</a></p>\n'
        f"<h1>page {n}</h1>\n{sections}\n<ul>\n{links}\n</ul>\n</body></html>\n"
    )


def render_data(k: int, seed: int) -> str:
    """The JSON of ``/data/<k>.json``."""
    rng = random.Random(f"{seed}/data/{k}")
    return json.dumps({"id": k, "values": [rng.randrange(1000) for _ in range(32)]}) + "\n"


def render_private(n: int) -> str:
    """The HTML of ``/private/<n>.html``, which no polite crawler should ever see."""
    return f"<!doctype html>\n<html><body><p>private note {n}</p></body></html>\n"


def build_app(pages: int, latency_ms: float, jitter: float = 0.0, seed: int = 0) -> web.Application:
    """The aiohttp application serving the generated site.

    Args:
        pages: How many ``/page/<n>.html`` pages the site has.
        latency_ms: How long every response waits before it is sent.
        jitter: A fraction; each path's latency is ``latency_ms * (1 ± jitter)``,
            drawn once per path from ``seed`` so reruns see the same delays.
        seed: Seeds the link graph, the text and the jitter.

    Raises:
        WorkloadError: an argument is out of range.
    """
    _check_args(pages, latency_ms, jitter)
    base_s = latency_ms / 1000.0

    # Pages are rendered on demand (a site may have 100 000 of them) and memoized,
    # so a hot page costs a dict lookup, not a render.
    @lru_cache(maxsize=8192)
    def resolve(path: str) -> tuple[bytes, str] | None:
        if path == "/":
            return render_index(pages).encode(), "text/html"
        if path == "/robots.txt":
            return ROBOTS_TXT.encode(), "text/plain"
        match = _PAGE_RE.fullmatch(path)
        if match and int(match[1]) < pages:
            return render_page(int(match[1]), pages, seed).encode(), "text/html"
        match = _DATA_RE.fullmatch(path)
        if match and int(match[1]) < data_count(pages):
            return render_data(int(match[1]), seed).encode(), "application/json"
        match = _PRIVATE_RE.fullmatch(path)
        if match and int(match[1]) < pages:
            return render_private(int(match[1])).encode(), "text/html"
        return None

    @lru_cache(maxsize=8192)
    def delay_for(path: str) -> float:
        if not jitter:
            return base_s
        u = random.Random(f"{seed}/latency{path}").random()
        return base_s * (1.0 + jitter * (2.0 * u - 1.0))

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == STATS_PATH:
            hits = request.app[_HITS_KEY]
            return web.json_response({"hits": dict(hits), "requests": sum(hits.values())})
        request.app[_HITS_KEY][path] += 1
        found = resolve(path)
        if found is None:
            # Nothing here maps a URL to a file, so traversal has nothing to reach;
            # every path the site did not generate is simply unknown.
            return web.Response(status=404, text="not found\n")
        delay = delay_for(path)
        if delay > 0:
            await asyncio.sleep(delay)
        body, content_type = found
        charset = "utf-8" if content_type.startswith("text/") else None
        return web.Response(body=body, content_type=content_type, charset=charset)

    app = web.Application()
    app[_HITS_KEY] = Counter()
    app.router.add_get("/{tail:.*}", handle)
    return app


def _check_host(host: str) -> None:
    if host not in LOOPBACK_HOSTS:
        raise WorkloadError(
            f"the local site binds loopback only; use one of {', '.join(LOOPBACK_HOSTS)}, "
            f"got {host!r}"
        )


async def _serve_async(
    host: str,
    port: int,
    pages: int,
    latency_ms: float,
    jitter: float,
    seed: int,
    ready: Callable[[str], None] | None,
    parent_pid: int | None,
) -> None:
    app = build_app(pages, latency_ms, jitter, seed)
    # No access log: one line per request would cost more than serving the page.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        url = f"http://{shown}:{bound[1]}"
        if ready is not None:
            ready(url)
        if parent_pid is not None:
            # However the parent dies (SIGKILL too), the site goes with it.
            watch(parent_pid, lambda: loop.call_soon_threadsafe(stop.set))
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    pages: int = 200,
    latency_ms: float = 100.0,
    jitter: float = 0.0,
    ready: Callable[[str], None] | None = None,
    *,
    seed: int = 0,
    parent_pid: int | None = None,
) -> None:
    """Serve the site in the foreground until SIGTERM or Ctrl-C (or the parent dies).

    Args:
        host: A loopback address to bind.
        port: The TCP port; 0 picks a free one.
        pages: How many pages the site has.
        latency_ms: The delay before every response.
        jitter: Latency spread as a fraction (see :func:`build_app`).
        ready: Called once with the base URL (``http://127.0.0.1:PORT``) when serving.
        seed: Seeds the site's content.
        parent_pid: When given, stop as soon as this process is no longer the parent.

    Raises:
        WorkloadError: a bad host or an argument out of range.
    """
    _check_host(host)
    _check_args(pages, latency_ms, jitter)
    asyncio.run(_serve_async(host, port, pages, latency_ms, jitter, seed, ready, parent_pid))


class LocalSite:
    """The site running in a child process, for one crawl.

    Use as ``with LocalSite(200, 100.0) as url: ...`` or call :meth:`start` and
    :meth:`stop`. The child exits on SIGTERM, and as soon as this process dies.
    """

    def __init__(
        self,
        pages: int,
        latency_ms: float,
        jitter: float = 0.0,
        seed: int = 0,
        *,
        log_path: Path | None = None,
        start_timeout: float = 10.0,
        preparing: Callable[[Preparation], None] | None = None,
    ) -> None:
        _check_args(pages, latency_ms, jitter)
        self.preparing = preparing
        """Told when the site starts and when it is ready (the run's preparation)."""
        self.pages = pages
        self.latency_ms = latency_ms
        self.jitter = jitter
        self.seed = seed
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> str:
        """Start the child and return the site's base URL once it serves.

        Raises:
            WorkloadError: the child did not report ready within ``start_timeout``.
        """
        if self._proc is not None and self.url is not None:
            return self.url
        cmd = [
            sys.executable,
            "-m",
            "conc_tui.workloads.site",
            "--pages",
            str(self.pages),
            "--latency",
            repr(self.latency_ms),
            "--jitter",
            repr(self.jitter),
            "--seed",
            str(self.seed),
            "--port",
            "0",
            "--parent-pid",
            str(os.getpid()),
        ]
        env = os.environ.copy()
        # The child must import this package even when it is not installed (a checkout
        # run from another folder), so put the package's parent folder on its path.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        log: IO[bytes] | int = subprocess.DEVNULL
        if self.preparing is not None:
            self.preparing(SiteStarting())
        began = time.monotonic()
        if self.log_path is not None:
            log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it after Popen
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env
            )
        finally:
            if not isinstance(log, int):
                log.close()
        try:
            self.url = self._read_ready(self._proc)
        except BaseException:
            self.stop()
            raise
        if self.preparing is not None:
            address = self.url.split("://", 1)[-1]
            self.preparing(SiteReady(address, time.monotonic() - began))
        return self.url

    def _read_ready(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        out = proc.stdout
        deadline = time.monotonic() + self.start_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkloadError(
                        f"the local site did not start within {self.start_timeout:g} s"
                    )
                if not sel.select(left):
                    continue
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    code = proc.poll()
                    raise WorkloadError(
                        f"the local site exited before it was ready (exit code {code})"
                    )
                buf += chunk
        out.close()
        line = buf.split(b"\n", 1)[0].decode(errors="replace").strip()
        if not line.startswith(READY_PREFIX):
            raise WorkloadError(f"the local site printed {line!r} instead of its URL")
        return line[len(READY_PREFIX) :]

    def stop(self) -> None:
        """Stop the child: SIGTERM, then SIGKILL if it is still there after a second."""
        proc, self._proc, self.url = self._proc, None, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None and not proc.stdout.closed:
            proc.stdout.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _announce(url: str) -> None:
    print(f"{READY_PREFIX}{url}", flush=True)
    # Nothing else goes to stdout: the parent stops reading after READY, and a later
    # write into a pipe nobody reads could block or raise.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process (and of a hand-run server)."""
    parser = argparse.ArgumentParser(
        prog="python -m conc_tui.workloads.site",
        description="Serve conc-tui's generated local site on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--latency", type=float, default=100.0, help="milliseconds")
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        serve(
            args.host,
            args.port,
            args.pages,
            args.latency,
            args.jitter,
            _announce,
            seed=args.seed,
            parent_pid=args.parent_pid,
        )
    except WorkloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
