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
from hostile_site import HostileSite

from conc_tui.config import RunConfig, WorkloadOptions
from conc_tui.telemetry.snapshot import RunResult
from conc_tui.workloads import web as web_module
from conc_tui.workloads.base import Item, ItemResult, WorkloadError, checksum
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
    [(404, True), (403, False), (500, False), (503, False)],
    ids=[
        "missing-robots-allows-all",
        "forbidden-robots-denies-all",
        "server-error-robots-denies-all",
        "unavailable-robots-denies-all",
    ],
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


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "example.com/page",
        "http://",
        "http://[::1",
        "http://h:99999/",
        "http://a%b/",
        "http://a b/",
        "http://h/\x1b[2J",
        "http://127.0.0.1:1/",
    ],
)
def test_the_cli_and_the_workload_accept_the_same_urls(url: str, tmp_path: Path) -> None:
    from conc_tui import cli

    try:
        cli.build_parser().parse_args(["run", "--workload", "web", "--url", url])
        cli_accepts = True
    except SystemExit:
        cli_accepts = False
    try:
        WebWorkload(WorkloadOptions(url=url)).prepare(tmp_path)
        workload_accepts = True
    except WorkloadError as exc:
        # Nothing listens on port 1: an accepted URL fails later, on reaching the site.
        workload_accepts = "could not reach" in str(exc) or "refused" in str(exc)
    assert cli_accepts == workload_accepts, url


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


# -- a hostile server ---------------------------------------------------------------
# Each case below was reproduced against the crawler before it was fixed.

ODD_LINKS = (
    "/ünï/çödé.html",
    "/a b.html",
    "/q?x=ü&y=1",
    "/p\x1b]0;WEBPWN\x07q",
    "/100%",
    "/%7Efine",
    "/hop",
)
CONTROL_LINK_KEY = "/p%1B%5D0;WEBPWN%07q"
"""How the crawler records the link with control characters: percent-encoded."""


def fetch_one(workload: WebWorkload, mode: str, url: str) -> ItemResult:
    """Fetch one URL as the blocking or the asynchronous client would."""
    key = web_module.url_key(url)
    item = Item(1, key, url)
    if mode == "blocking":
        return workload.run(item)

    async def fetch() -> ItemResult:
        await workload.attach_async()
        try:
            return await workload.run_async(item)
        finally:
            await workload.detach_async()

    return asyncio.run(fetch())


def hostile_workload(
    site: HostileSite, path: str, tmp_path: Path, **deadlines: float
) -> WebWorkload:
    workload = WebWorkload(WorkloadOptions(url=site.url + path))
    for name, value in deadlines.items():
        setattr(workload, name, value)
    workload.prepare(tmp_path)
    return workload


def assert_printable(text: str) -> None:
    assert text and all(c.isprintable() for c in text), repr(text)


@pytest.mark.parametrize("mode", ["blocking", "async"])
@pytest.mark.parametrize("path", ["/drip", "/drip-head"])
def test_a_dripping_page_fails_within_the_total_deadline(
    mode: str, path: str, tmp_path: Path
) -> None:
    with HostileSite(drip_s=0.3, drip_budget_s=6) as site:
        workload = hostile_workload(site, "/", tmp_path, fetch_timeout_s=1.5)
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            fetch_one(workload, mode, site.url + path)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 1.0, elapsed
    assert str(caught.value) == f"could not fetch {path}: no complete answer within 1.5 s"


def test_a_dripping_robots_txt_fails_prepare_within_the_deadline(tmp_path: Path) -> None:
    with HostileSite(robots="drip", drip_s=0.3, drip_budget_s=6) as site:
        workload = WebWorkload(WorkloadOptions(url=site.url + "/"))
        workload.reach_timeout_s = 1.5
        started = time.monotonic()
        with pytest.raises(WorkloadError) as caught:
            workload.prepare(tmp_path)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 1.0, elapsed
    assert str(caught.value) == (
        f"could not reach {site.url}/: no complete answer from /robots.txt within 1.5 s"
    )


STOP_LATENCY_S = 1.0


@pytest.mark.parametrize("model", ["serial", "thread", "process", "async"])
@pytest.mark.parametrize("where", ["page", "robots"])
def test_stop_ends_a_dripping_run_within_a_second(model: str, where: str) -> None:
    from conc_tui.engine import execute

    robots = "drip" if where == "robots" else "rules"
    with HostileSite(robots=robots, drip_s=0.3, drip_budget_s=12) as site:
        url = site.url + ("/drip" if where == "page" else "/")
        options = WorkloadOptions(url=url)
        config = RunConfig(model=model, workload="web", workers=2, options=options)
        workload = WebWorkload(options)
        workload.reach_timeout_s = 30.0
        stop = threading.Event()
        outcome: list[object] = []
        thread = threading.Thread(
            target=lambda: outcome.append(execute(config, stop=stop, workload=workload)),
            daemon=True,
        )
        thread.start()
        assert site.drips_started.wait(20), "the run never reached the drip"
        time.sleep(0.5)  # well inside the drip
        asked = time.monotonic()
        stop.set()
        thread.join(20)
        latency = time.monotonic() - asked
    print(f"stop latency {model} ({where}): {latency * 1000:.0f} ms")
    assert not thread.is_alive()
    assert latency < STOP_LATENCY_S, f"{model}: {latency:.2f} s"
    result = outcome[0]
    assert isinstance(result, RunResult) and result.status == "stopped"
    # An abandoned fetch is not a failure, under any model.
    assert (result.items_done, result.items_failed) == (0, 0), result.failures


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_redirects_never_leave_the_start_host(mode: str, tmp_path: Path) -> None:
    with HostileSite(links=("/away", "/hop")) as site:
        if not site.other_host_up:
            pytest.skip("127.0.0.2 is not available here")
        results = crawl(mode, site.url + "/", tmp_path)
        other = site.paths("127.0.0.2")
        own = site.paths()
    assert other == []
    by_key = {r.key: r for r in results}
    away = by_key["/away"]
    assert not away.ok and away.skipped
    assert (
        away.error
        == f"redirected to another host (http://127.0.0.2:{site.port}/stolen), not followed"
    )
    assert by_key["/hop"].ok and "/landed" in own
    assert checksum(results) == checksum([by_key["/"], by_key["/hop"]])


def test_a_skipped_redirect_is_counted_in_the_run_result() -> None:
    from conc_tui.engine import execute

    with HostileSite(links=("/away", "/hop")) as site:
        if not site.other_host_up:
            pytest.skip("127.0.0.2 is not available here")
        options = WorkloadOptions(url=site.url + "/")
        result = execute(RunConfig(model="thread", workload="web", workers=2, options=options))
        other = site.paths("127.0.0.2")
    assert other == []
    assert (result.items_done, result.items_failed) == (2, 0)
    assert "1 item skipped (first: /away redirected to another host" in result.input


def test_robots_txt_redirected_to_another_host_is_not_followed(tmp_path: Path) -> None:
    with HostileSite(robots="away") as site:
        if not site.other_host_up:
            pytest.skip("127.0.0.2 is not available here")
        workload = hostile_workload(site, "/", tmp_path)
        other = site.paths("127.0.0.2")
    assert other == []
    # Unavailable rules (RFC 9309 2.3.1.3): the crawler may fetch, and says why.
    assert workload.allowed(f"{site.url}/private/1.html")
    assert "robots.txt redirected to another host, not followed" in workload.describe()


def test_robots_txt_in_a_redirect_loop_counts_as_missing(tmp_path: Path) -> None:
    with HostileSite(robots="loop") as site:
        workload = hostile_workload(site, "/", tmp_path)
        asked = site.paths().count("/robots.txt")
    assert asked == 1  # the redirect back to itself is seen as a loop, not followed
    assert workload.allowed(f"{site.url}/private/1.html")
    assert "robots.txt unusable (redirect loop" in workload.describe()


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_a_redirect_loop_fails_with_a_clear_reason(mode: str, tmp_path: Path) -> None:
    with HostileSite() as site:
        workload = hostile_workload(site, "/", tmp_path)
        with pytest.raises(FetchError) as caught:
            fetch_one(workload, mode, site.url + "/loop-a")
    assert (
        str(caught.value)
        == "could not fetch /loop-a: redirect loop (/loop-b leads back to /loop-a)"
    )


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_failure_reasons_escape_what_the_server_sent(mode: str, tmp_path: Path) -> None:
    with HostileSite() as site:
        workload = hostile_workload(site, "/", tmp_path)
        with pytest.raises(FetchError) as caught:
            fetch_one(workload, mode, site.url + "/bad-status")
    reason = str(caught.value)
    assert reason.startswith("could not fetch /bad-status: ")
    assert_printable(reason)
    assert "\\x1b" in reason  # escaped, still there to read


def test_every_model_fetches_odd_links_alike() -> None:
    from conc_tui.engine import execute

    checksums = {}
    with HostileSite(links=ODD_LINKS) as site:
        options = WorkloadOptions(url=site.url + "/")
        for model in ("serial", "thread", "process", "async"):
            config = RunConfig(model=model, workload="web", workers=2, options=options)
            result = execute(config)
            assert result.items_failed == 0, (model, result.failures)
            assert result.items_done == len(ODD_LINKS) + 1, model
            checksums[model] = result.checksum
        sent = set(site.paths())
    assert len(set(checksums.values())) == 1, checksums
    # What went on the wire is plain ASCII, the control characters percent-encoded.
    assert all(p.isascii() and p.isprintable() for p in sent), sent
    assert CONTROL_LINK_KEY in sent
    assert "/%C3%BCn%C3%AF/%C3%A7%C3%B6d%C3%A9.html" in sent
    assert "/100%25" in sent and "/%7Efine" in sent and "/a%20b.html" in sent


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_links_with_control_characters_are_recorded_percent_encoded(
    mode: str, tmp_path: Path
) -> None:
    with HostileSite(links=ODD_LINKS) as site:
        results = crawl(mode, site.url + "/", tmp_path)
    keys = {r.key for r in results}
    assert CONTROL_LINK_KEY in keys
    for r in results:
        assert_printable(r.key)
        for link in r.discovered:
            assert_printable(link)


def test_normalize_url_percent_encodes_once() -> None:
    assert normalize_url("http://h/ü?q=é") == "http://h/%C3%BC?q=%C3%A9"
    assert normalize_url("http://h/p\x1b]0;X\x07q") == "http://h/p%1B%5D0;X%07q"
    assert normalize_url("http://h/a b/100%") == "http://h/a%20b/100%25"
    assert normalize_url("http://h/%7e%2F") == "http://h/%7E%2F"
    # Already normal: unchanged, so normalizing twice is normalizing once.
    for url in ("http://h/%C3%BC?q=%C3%A9", "http://h/a%20b/100%25", "http://h/x;y=1,2@:"):
        assert normalize_url(url) == url


@pytest.mark.parametrize("model", ["serial", "thread"])
def test_space_stops_a_dripping_crawl_in_the_app_within_a_second(model: str) -> None:
    """The app's path: a lab process runs the crawl, the pane asks it to stop."""
    from conc_tui.lab import LabController
    from conc_tui.telemetry.snapshot import Phase, Snapshot

    controller = LabController()
    stopped = threading.Event()
    last: list[Snapshot] = []

    def collect(snapshot: Snapshot) -> None:
        last[:] = [snapshot]
        if snapshot.phase == Phase.STOPPED:
            stopped.set()

    with HostileSite(drip_s=0.3, drip_budget_s=12) as site:
        options = WorkloadOptions(url=site.url + "/drip")
        try:
            controller.start(RunConfig(model, "web", 2, options), collect)
            assert site.drips_started.wait(30), "the run never reached the drip"
            time.sleep(0.5)
            asked = time.monotonic()
            controller.request_stop()  # what Space does
            assert stopped.wait(10), f"not stopped: {last[0].phase if last else None}"
            latency = time.monotonic() - asked
        finally:
            controller.close()
    print(f"app stop latency {model}: {latency * 1000:.0f} ms")
    assert latency < STOP_LATENCY_S, f"{model}: {latency:.2f} s"
