"""The web workload: the generated local site and the polite crawler, over real HTTP."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from aiohttp import web

from conc_tui.config import WorkloadOptions
from conc_tui.workloads import web as web_module
from conc_tui.workloads.base import ItemResult, WorkloadError, checksum
from conc_tui.workloads.site import (
    OFFSITE_URL,
    LocalSite,
    build_app,
    crawlable_count,
    crawlable_paths,
    serve,
)
from conc_tui.workloads.web import FetchError, WebWorkload, normalize_url

PAGES = 30
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on loopback from a background thread; yield its base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    urls: list[str] = []
    started = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert started.wait(5), "test server did not start"
    try:
        yield urls[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def hits(base_url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base_url}/__stats", timeout=5) as response:
        return dict(json.load(response)["hits"])


def crawl_blocking(workload: WebWorkload) -> list[ItemResult]:
    """The smallest coordinator: a FIFO frontier fed by on_result."""
    frontier = deque(workload.initial_items())
    results = []
    while frontier:
        result = workload.run(frontier.popleft())
        results.append(result)
        frontier.extend(workload.on_result(result))
    return results


async def crawl_async(workload: WebWorkload, concurrency: int = 8) -> list[ItemResult]:
    """The same coordinator with up to ``concurrency`` fetches in flight."""
    await workload.attach_async()
    try:
        frontier = deque(workload.initial_items())
        running: set[asyncio.Task[ItemResult]] = set()
        results = []
        while frontier or running:
            while frontier and len(running) < concurrency:
                running.add(asyncio.create_task(workload.run_async(frontier.popleft())))
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                result = task.result()
                results.append(result)
                frontier.extend(workload.on_result(result))
        return results
    finally:
        await workload.detach_async()


def crawl(mode: str, url: str, tmp_path: Path, **options: object) -> list[ItemResult]:
    workload = WebWorkload(WorkloadOptions(url=url, **options))  # type: ignore[arg-type]
    workload.prepare(tmp_path)
    try:
        if mode == "blocking":
            return crawl_blocking(workload)
        return asyncio.run(crawl_async(workload))
    finally:
        workload.close()


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (reaped, or a zombie nobody reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- the crawl ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_crawl_fetches_every_crawlable_url_exactly_once(mode: str, tmp_path: Path) -> None:
    with serving(build_app(PAGES, latency_ms=2, seed=7)) as url:
        results = crawl(mode, url + "/", tmp_path)
        counts = hits(url)
    expected = crawlable_paths(PAGES)
    assert all(r.ok and r.size > 0 for r in results)
    assert sorted(r.key for r in results) == sorted(expected)
    assert len(results) == crawlable_count(PAGES)
    # The server's own count: everything once, robots.txt once, nothing else at all
    # (no /private/, no duplicate, no fragment variant, no 404 probe).
    assert counts == {**dict.fromkeys(expected, 1), "/robots.txt": 1}
    # The traps were on the pages, so the filters really had something to refuse.
    discovered = {link for r in results for link in r.discovered}
    assert OFFSITE_URL in discovered
    assert any("/private/" in link for link in discovered)
    assert not any("#" in link for link in discovered)
    # JSON resources are fetched but not parsed.
    assert all(r.discovered == () for r in results if r.key.endswith(".json"))


def test_blocking_and_async_crawls_agree(tmp_path: Path) -> None:
    with serving(build_app(PAGES, latency_ms=0)) as url:
        blocking = crawl("blocking", url + "/", tmp_path)
        asynchronous = crawl("async", url + "/", tmp_path)
    pairs = {(r.key, r.digest) for r in blocking}
    assert pairs == {(r.key, r.digest) for r in asynchronous}
    assert checksum(blocking) == checksum(asynchronous)
    assert {r.key: r.size for r in blocking} == {r.key: r.size for r in asynchronous}


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_max_pages_caps_the_crawl(mode: str, tmp_path: Path) -> None:
    with serving(build_app(PAGES, latency_ms=0)) as url:
        results = crawl(mode, url + "/", tmp_path, max_pages=10)
        counts = hits(url)
    assert len(results) == 10
    assert len({r.key for r in results}) == 10
    assert sum(counts.values()) == 10 + 1  # plus robots.txt
    assert sorted(r.index for r in results) == list(range(10))


def test_local_site_workload_end_to_end(tmp_path: Path) -> None:
    workload = WebWorkload(WorkloadOptions(items=PAGES, latency_ms=0))
    workload.prepare(tmp_path)
    site = workload._site
    assert site is not None and site.pid is not None
    pid = site.pid
    try:
        assert workload.total_items() == crawlable_count(PAGES)
        assert workload.start_url is not None
        base = workload.start_url.rstrip("/")
        # The process pool pickles the workload: live handles stay behind, the copy works.
        clone = pickle.loads(pickle.dumps(workload))
        assert clone._site is None
        results = crawl_blocking(clone)
        assert sorted(r.key for r in results) == sorted(crawlable_paths(PAGES))
        assert hits(base)["/page/0.html"] == 1
    finally:
        workload.close()
    assert workload._site is None
    assert gone(pid)


def test_total_items_is_capped_by_max_pages_and_unknown_for_user_urls(tmp_path: Path) -> None:
    workload = WebWorkload(WorkloadOptions(items=PAGES, latency_ms=0, max_pages=5))
    workload.prepare(tmp_path)
    try:
        assert workload.total_items() == 5
    finally:
        workload.close()
    with serving(build_app(PAGES, latency_ms=0)) as url:
        user = WebWorkload(WorkloadOptions(url=url))
        user.prepare(tmp_path)
        assert user.total_items() is None
        assert user.initial_items()[0].key == "/"


# -- fetching details -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_non_2xx_raises_with_the_status(mode: str, tmp_path: Path) -> None:
    with serving(build_app(PAGES, latency_ms=0)) as url:
        workload = WebWorkload(WorkloadOptions(url=url))
        workload.prepare(tmp_path)
        item = workload.initial_items()[0]
        missing = type(item)(1, "/page/999.html", f"{url}/page/999.html")

        async def fetch_async() -> None:
            await workload.attach_async()
            try:
                await workload.run_async(missing)
            finally:
                await workload.detach_async()

        with pytest.raises(FetchError, match="HTTP 404"):
            if mode == "blocking":
                workload.run(missing)
            else:
                asyncio.run(fetch_async())


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_body_is_capped(mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_module, "MAX_BODY_BYTES", 100)
    with serving(build_app(PAGES, latency_ms=0)) as url:
        results = crawl(mode, url + "/", tmp_path, max_pages=1)
    assert results[0].size == 100


@pytest.mark.parametrize(
    ("status", "private_allowed"),
    [(404, True), (403, False)],
    ids=["missing-robots-allows-all", "forbidden-robots-denies-all"],
)
def test_robots_status_semantics(status: int, private_allowed: bool, tmp_path: Path) -> None:
    app = web.Application()

    async def robots(request: web.Request) -> web.Response:
        return web.Response(status=status)

    app.router.add_get("/robots.txt", robots)
    with serving(app) as url:
        workload = WebWorkload(WorkloadOptions(url=url))
        workload.prepare(tmp_path)
    assert workload.allowed(f"{url}/private/1.html") is private_allowed


def test_robots_rules_are_read(tmp_path: Path) -> None:
    with serving(build_app(PAGES, latency_ms=0)) as url:
        workload = WebWorkload(WorkloadOptions(url=url))
        workload.prepare(tmp_path)
    assert workload.allowed(f"{url}/page/1.html")
    assert not workload.allowed(f"{url}/private/1.html")


def test_normalize_url() -> None:
    assert normalize_url("HTTP://Example.COM:80#top") == "http://example.com/"
    assert normalize_url("https://example.com:443/a?b=1#c") == "https://example.com/a?b=1"
    assert normalize_url("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/x"
    assert normalize_url("http://[::1]:81/") == "http://[::1]:81/"
    assert normalize_url("mailto:someone@example.com") is None
    assert normalize_url("javascript:void(0)") is None
    assert normalize_url("http://host:notaport/") is None


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "example.com", "http://", "http://[::1", "", "http://h:99999/"]
)
def test_bad_urls_raise_a_clear_error(url: str, tmp_path: Path) -> None:
    workload = WebWorkload(WorkloadOptions(url=url))
    with pytest.raises(WorkloadError, match=r"--url must be an http:// or https:// URL"):
        workload.prepare(tmp_path)


def test_unreachable_url_fails_fast(tmp_path: Path) -> None:
    # A port that was just free: nothing listens there, so connecting is refused.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workload = WebWorkload(WorkloadOptions(url=f"http://127.0.0.1:{port}/"))
    started = time.monotonic()
    with pytest.raises(WorkloadError, match=rf"could not reach http://127.0.0.1:{port}/: .+"):
        workload.prepare(tmp_path)
    assert time.monotonic() - started < 2


def test_site_rejects_bad_arguments() -> None:
    with pytest.raises(WorkloadError, match="loopback"):
        serve("0.0.0.0", 0, 10, 0.0)
    with pytest.raises(WorkloadError, match="jitter"):
        build_app(10, 0.0, jitter=1.5)
    with pytest.raises(WorkloadError, match="at least 1 page"):
        build_app(0, 0.0)


# -- the site -------------------------------------------------------------------------


def test_site_serves_only_its_own_routes() -> None:
    with serving(build_app(PAGES, latency_ms=0)) as url:
        port = int(url.rsplit(":", 1)[1])

        def status(path: str) -> tuple[int, str]:
            # http.client sends the path as given; a URL library would clean up the dots.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                return response.status, response.getheader("Content-Type", "")
            finally:
                conn.close()

        for path in (
            "/../../etc/passwd",
            "/page/../../etc/passwd",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/page/..%2f..%2fetc%2fpasswd",
            "/page/30.html",
            "/page/03.html",
            "/page/-1.html",
            "/data/1.json",
            "/site.py",
        ):
            assert status(path)[0] == 404, path
        assert status("/page/29.html") == (200, "text/html; charset=utf-8")
        assert status("/data/0.json") == (200, "application/json")
        assert status("/robots.txt") == (200, "text/plain; charset=utf-8")


def test_site_content_is_deterministic_and_latency_is_applied() -> None:
    def fetch_all(url: str) -> list[bytes]:
        return [urllib.request.urlopen(url + p, timeout=5).read() for p in ("/", "/page/3.html")]

    with serving(build_app(PAGES, latency_ms=0, seed=3)) as first:
        a = fetch_all(first)
    with serving(build_app(PAGES, latency_ms=50, seed=3)) as second:
        started = time.monotonic()
        b = fetch_all(second)
        elapsed = time.monotonic() - started
    assert a == b
    assert elapsed >= 0.1


def test_local_site_starts_answers_and_stops() -> None:
    site = LocalSite(PAGES, latency_ms=0)
    url = site.start()
    pid = site.pid
    assert pid is not None and url.startswith("http://127.0.0.1:")
    try:
        with urllib.request.urlopen(url + "/page/1.html", timeout=5) as response:
            assert response.status == 200
        assert hits(url) == {"/page/1.html": 1}
    finally:
        started = time.monotonic()
        site.stop()
    # SIGTERM alone ends it (stop() would fall back to SIGKILL only after 1 s).
    assert time.monotonic() - started < 1
    assert gone(pid)
    assert site.pid is None
    site.stop()  # idempotent


def test_local_site_exits_when_its_parent_dies() -> None:
    script = (
        "import os\n"
        "from conc_tui.workloads.site import LocalSite\n"
        "site = LocalSite(5, 0.0)\n"
        "site.start()\n"
        "print(site.pid, flush=True)\n"
        "os._exit(0)\n"  # die without stopping the site
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=20
    )
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 3
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid)
