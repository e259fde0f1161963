"""The web workload: a polite crawler, blocking (urllib) or asynchronous (aiohttp).

One item is one URL. A task fetches it, and when the response is HTML, parses its links;
the coordinator (:meth:`WebWorkload.on_result`) turns links into new items: same scheme
and host as the start URL, allowed by ``robots.txt``, never seen before, and no more
than ``max_pages`` in all. By default the site is :class:`~conc_tui.workloads.site.LocalSite`,
a generated site served by a child process on loopback with a latency knob.

The network wait of every fetch (the request and reading the body) is reported as
``WAIT_IO``; link parsing, which is Python work, runs as ``RUNNING``. Neither client
uses a proxy, so both measure the same thing.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from conc_tui.config import WorkloadOptions
from conc_tui.telemetry.recorder import current_recorder
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, ItemResult, Workload, WorkloadError

if TYPE_CHECKING:
    import aiohttp

    from conc_tui.workloads.site import LocalSite

USER_AGENT = "conc-tui/0.1 (educational crawler)"
ROBOTS_AGENT = "conc-tui"
"""The name matched against ``User-agent:`` lines in robots.txt."""
FETCH_TIMEOUT_S = 10.0
REACH_TIMEOUT_S = 5.0
"""How long :meth:`WebWorkload.prepare` waits for a user's site to answer."""
MAX_BODY_BYTES = 2 * 1024 * 1024
"""Bytes read per response at most; the rest is left unread (and not hashed)."""
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchError(Exception):
    """A fetch that got an answer the crawler cannot use (a non-2xx status, say)."""


def normalize_url(url: str) -> str | None:
    """The canonical form of an http(s) URL, or None for anything else.

    Drops the fragment and a default port, lowercases scheme and host, and turns an
    empty path into ``/``, so that two spellings of one page are seen as one.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def url_key(url: str) -> str:
    """The item key of a URL: its path and query."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class _LinkParser(HTMLParser):
    """Collects ``href``s of ``<a>`` and ``<area>``, and the ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area"):
            for name, value in attrs:
                if name == "href" and value:
                    self.hrefs.append(value)
        elif tag == "base" and self.base is None:
            for name, value in attrs:
                if name == "href" and value:
                    self.base = value


def extract_links(body: bytes, charset: str | None, page_url: str) -> tuple[str, ...]:
    """The distinct http(s) links of an HTML page, absolute and without fragments."""
    try:
        text = body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name in the Content-Type
        text = body.decode("utf-8", errors="replace")
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    seen: dict[str, None] = {}
    for href in parser.hrefs:
        url = normalize_url(urljoin(base, href.strip()))
        if url is not None:
            seen.setdefault(url, None)
    return tuple(seen)


def _result(item: Item, body: bytes, links: tuple[str, ...]) -> ItemResult:
    return ItemResult(
        index=item.index,
        key=item.key,
        ok=True,
        digest=hashlib.sha256(body).hexdigest()[:16],
        size=len(body),
        discovered=links,
    )


class WebWorkload(Workload):
    """Crawl a site from one start URL, politely, under any model."""

    name: ClassVar[str] = "web"
    description: ClassVar[str] = "crawl a website over HTTP; tasks wait on the network"
    has_async: ClassVar[bool] = True

    # Live resources that cannot cross a process boundary: rebuilt where needed.
    _UNPICKLED = ("_site", "_session", "_robots", "_opener")

    def __init__(self, options: WorkloadOptions) -> None:
        self.options = options
        self.start_url: str | None = None
        self.local_pages: int | None = None
        """Pages of the local site, or None when crawling a user's URL."""
        self._origin: tuple[str, str] = ("", "")
        self._robots_lines: list[str] | None = None
        self._robots_mode = "allow"
        """"allow" (no robots.txt), "deny" (401/403) or "parse" (use the lines)."""
        self._seen: set[str] = set()
        self._next_index = 0
        self._site: LocalSite | None = None
        self._session: aiohttp.ClientSession | None = None
        self._robots: RobotFileParser | None = None
        self._opener: urllib.request.OpenerDirector | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self._UNPICKLED:
            state[name] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # -- coordinator side -------------------------------------------------------------

    def prepare(self, work_dir: Path) -> None:
        """Start the local site (or check the user's URL) and read its robots.txt.

        Raises:
            WorkloadError: the URL is malformed or the site does not answer.
        """
        if self.options.url is None:
            from conc_tui.workloads.site import LocalSite

            if self._site is None:
                pages = self.options.items_for("web")
                log = work_dir / "site.log" if work_dir.is_dir() else None
                self._site = LocalSite(pages, self.options.latency_ms, log_path=log)
                self.local_pages = pages
            start = self._site.start() + "/"
        else:
            start = self._validate_url(self.options.url)
            self.local_pages = None
        normalized = normalize_url(start)
        assert normalized is not None  # validated above
        self.start_url = normalized
        parts = urlsplit(normalized)
        self._origin = (parts.scheme, parts.netloc)
        self._seen = {normalized}
        self._next_index = 1
        self._read_robots()

    @staticmethod
    def _validate_url(url: str) -> str:
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            raise WorkloadError(
                f"--url must be an http:// or https:// URL with a host "
                f"(like http://example.com/), got {url!r}"
            )
        return url.strip()

    def _read_robots(self) -> None:
        """Fetch robots.txt; it doubles as the check that the site answers at all."""
        assert self.start_url is not None
        scheme, netloc = self._origin
        robots_url = f"{scheme}://{netloc}/robots.txt"
        request = urllib.request.Request(robots_url, headers={"User-Agent": USER_AGENT})
        try:
            with self._get_opener().open(request, timeout=REACH_TIMEOUT_S) as response:
                raw = response.read(MAX_BODY_BYTES)
                charset = response.headers.get_content_charset() or "utf-8"
        except urllib.error.HTTPError as exc:
            # The same reading as urllib.robotparser: 401/403 forbid everything,
            # any other error status means there are no rules.
            self._robots_mode = "deny" if exc.code in (401, 403) else "allow"
            self._robots_lines = None
        except (OSError, http.client.HTTPException) as exc:
            reason = _reason(exc)
            if reason == "timed out":
                reason = f"no answer within {REACH_TIMEOUT_S:g} s"
            raise WorkloadError(f"could not reach {self.start_url}: {reason}") from None
        else:
            self._robots_mode = "parse"
            self._robots_lines = raw.decode(charset, errors="replace").splitlines()
        self._robots = None

    def _robots_parser(self) -> RobotFileParser:
        if self._robots is None:
            parser = RobotFileParser()
            # parse() also marks the rules as read; without it can_fetch() says no.
            if self._robots_mode == "deny":
                parser.parse(["User-agent: *", "Disallow: /"])
            elif self._robots_mode == "allow":
                parser.parse([])
            else:
                parser.parse(self._robots_lines or [])
            self._robots = parser
        return self._robots

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets this crawler fetch ``url``."""
        return self._robots_parser().can_fetch(ROBOTS_AGENT, url)

    def initial_items(self) -> list[Item]:
        """The start URL (after :meth:`prepare`)."""
        if self.start_url is None:
            raise RuntimeError("WebWorkload.prepare() must run before initial_items()")
        return [Item(0, url_key(self.start_url), self.start_url)]

    def total_items(self) -> int | None:
        """The local site's crawlable count (capped by max_pages); None for a user URL."""
        if self.local_pages is None:
            return None
        from conc_tui.workloads.site import crawlable_count

        return min(crawlable_count(self.local_pages), self.options.max_pages)

    def on_result(self, result: ItemResult) -> list[Item]:
        """New items for the links of a fetched page that a polite crawler follows."""
        new: list[Item] = []
        limit = self.options.max_pages
        for link in result.discovered:
            if self._next_index >= limit:
                break
            # Links from run() are already normalized, and most were seen before:
            # checking first skips re-parsing the common case.
            if link in self._seen:
                continue
            url = normalize_url(link)
            if url is None or url in self._seen:
                continue
            parts = urlsplit(url)
            if (parts.scheme, parts.netloc) != self._origin:
                continue
            # Remember refused links too, so robots.txt is asked once per URL.
            self._seen.add(url)
            if not self.allowed(url):
                continue
            new.append(Item(self._next_index, url_key(url), url))
            self._next_index += 1
        return new

    def close(self) -> None:
        """Stop the local site, if this workload started one."""
        site, self._site = self._site, None
        if site is not None:
            site.stop()

    def describe(self) -> str:
        if self.local_pages is not None:
            return (
                f"crawl the local site ({self.local_pages} pages, "
                f"{self.options.latency_ms:g} ms latency)"
            )
        return f"crawl {self.options.url}"

    # -- worker side: blocking ------------------------------------------------------

    def _get_opener(self) -> urllib.request.OpenerDirector:
        if self._opener is None:
            # No proxy from the environment: aiohttp ignores it too, and a proxy in
            # the path would turn a loopback benchmark into a measurement of the proxy.
            self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return self._opener

    def attach(self) -> None:
        self._get_opener()

    def run(self, item: Item) -> ItemResult:
        """Fetch one URL with urllib, blocking; parse its links when it is HTML.

        Raises:
            FetchError: a status outside 2xx, or the network failed or timed out.
        """
        request = urllib.request.Request(item.payload, headers={"User-Agent": USER_AGENT})
        opener = self._get_opener()
        with current_recorder().waiting(WorkerState.WAIT_IO):
            try:
                with opener.open(request, timeout=FETCH_TIMEOUT_S) as response:
                    status = response.status
                    final_url = response.geturl()
                    content_type = response.headers.get_content_type()
                    charset = response.headers.get_content_charset()
                    body = _read_capped(response)
            except urllib.error.HTTPError as exc:
                raise FetchError(f"HTTP {exc.code} for {item.key}") from None
            except (OSError, http.client.HTTPException) as exc:
                # One picklable exception type with a readable reason, whatever failed.
                raise FetchError(f"could not fetch {item.key}: {_reason(exc)}") from None
        if not 200 <= status < 300:
            raise FetchError(f"HTTP {status} for {item.key}")
        links = extract_links(body, charset, final_url) if content_type in HTML_TYPES else ()
        return _result(item, body, links)

    # -- worker side: asyncio -------------------------------------------------------

    async def attach_async(self) -> None:
        """Open the aiohttp session every task of this loop shares."""
        import aiohttp

        if self._session is None:
            # No connection cap: the model's concurrency is the only limit, so the
            # race measures the model, not aiohttp's default pool of 100.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S),
                headers={"User-Agent": USER_AGENT},
            )

    async def detach_async(self) -> None:
        """Close the session (and its pooled connections)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def run_async(self, item: Item) -> ItemResult:
        """Fetch one URL with aiohttp; parse its links when it is HTML.

        Raises:
            FetchError: a status outside 2xx, or the network failed or timed out.
        """
        session = self._session
        if session is None:
            raise RuntimeError("WebWorkload.attach_async() must run before run_async()")
        import aiohttp

        with current_recorder().waiting(WorkerState.WAIT_IO):
            try:
                async with session.get(item.payload) as response:
                    if not 200 <= response.status < 300:
                        raise FetchError(f"HTTP {response.status} for {item.key}")
                    final_url = str(response.url)
                    content_type = response.content_type
                    charset = response.charset
                    chunks: list[bytes] = []
                    left = MAX_BODY_BYTES
                    while left > 0:
                        chunk = await response.content.read(left)
                        if not chunk:
                            break
                        chunks.append(chunk)
                        left -= len(chunk)
                    body = b"".join(chunks)
            except (OSError, aiohttp.ClientError) as exc:
                # TimeoutError is an OSError; both clients fail with the same reasons.
                raise FetchError(f"could not fetch {item.key}: {_reason(exc)}") from None
        links = extract_links(body, charset, final_url) if content_type in HTML_TYPES else ()
        return _result(item, body, links)


def _reason(exc: BaseException) -> str:
    """A short, human reason for a network failure."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        inner = exc.reason
        if isinstance(inner, BaseException):
            return _reason(inner)
        return str(inner)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _read_capped(response: Any) -> bytes:
    """Read at most :data:`MAX_BODY_BYTES` from a urllib response."""
    chunks: list[bytes] = []
    left = MAX_BODY_BYTES
    while left > 0:
        chunk = response.read(min(left, 256 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
