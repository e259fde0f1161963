"""The web workload: a polite crawler, blocking (http.client) or asynchronous (aiohttp).

One item is one URL. A task fetches it, and when the response is HTML, parses its links;
the coordinator (:meth:`WebWorkload.on_result`) turns links into new items: same scheme
and host as the start URL, allowed by ``robots.txt``, never seen before, and no more
than ``max_pages`` in all. By default the site is :class:`~conc_tui.workloads.site.LocalSite`,
a generated site served by a child process on loopback with a latency knob.

The network wait of every fetch (the request and reading the body) is reported as
``WAIT_IO``; link parsing, which is Python work, runs as ``RUNNING``. Neither client
uses a proxy, so both measure the same thing.

Both clients behave alike, so every model crawls the same pages and the checksum
agrees: URLs are normalized (and percent-encoded) once, by :func:`normalize_url`, and
sent as they are; redirects are followed by hand, on the start host only (one that
leaves it skips its item); every item has one total deadline, and a blocking fetch
also ends within a slice of the run being stopped (see
:mod:`conc_tui.workloads.bounded_http`; under asyncio the model cancels the task).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from conc_tui.config import WorkloadOptions
from conc_tui.printable import printable
from conc_tui.telemetry.recorder import current_recorder
from conc_tui.telemetry.states import WorkerState
from conc_tui.workloads.base import Item, ItemResult, Workload, WorkloadError
from conc_tui.workloads.bounded_http import Cutoff, OutOfTime, Stopped, open_connection

if TYPE_CHECKING:
    import aiohttp

    from conc_tui.workloads.site import LocalSite

USER_AGENT = "conc-tui/0.1 (educational crawler)"
ROBOTS_AGENT = "conc-tui"
"""The name matched against ``User-agent:`` lines in robots.txt."""
FETCH_TIMEOUT_S = 10.0
"""The total deadline of one item (connect, redirects, headers and body)."""
REACH_TIMEOUT_S = 5.0
"""How long :meth:`WebWorkload.prepare` waits for robots.txt, all of it."""
MAX_REDIRECTS = 5
"""Redirects followed per item at most (RFC 9309 asks at least five for robots.txt)."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
"""Both clients send these, so both get (and hash) the same bytes."""
MAX_BODY_BYTES = 2 * 1024 * 1024
"""Bytes read per response at most; the rest is left unread (and not hashed)."""
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchError(Exception):
    """A fetch that got an answer the crawler cannot use (a non-2xx status, say)."""


def normalize_url(url: str) -> str | None:
    """The canonical form of an http(s) URL, or None for anything else.

    Drops the fragment and a default port, lowercases scheme and host, resolves ``.``
    and ``..`` segments, turns an empty path into ``/`` and percent-encodes the path
    and query (UTF-8), so that two spellings of one page are seen as one, both clients
    send the very same bytes, and no control character survives (a link such as
    ``/p\x1b]0;X\x07q`` becomes ``/p%1B%5D0;X%07q``). Normalizing twice changes
    nothing. A host that is not a plain name or address gives None.
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
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not _HOST_RE.fullmatch(host):
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _percent_encode(_remove_dot_segments(parts.path or "/"), _PATH_SAFE)
    query = _percent_encode(parts.query, _QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def url_problem(url: str) -> str | None:
    """What keeps ``url`` from being a crawl's start, in a few words, or None if nothing.

    The one check of a user's URL: the CLI and the workload both ask it, so they
    accept the same URLs. The words follow the URL in a sentence ("'ftp://x/' has
    scheme 'ftp'").
    """
    if not url or any(ch.isspace() or not ch.isprintable() for ch in url):
        return "is not a valid URL"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return f"has scheme {parts.scheme!r}" if parts.scheme else "has no scheme"
    if not parts.hostname:
        return "has no host"
    if normalize_url(url) is None:
        return "has a host that is not a plain name or address"
    return None


_HOST_RE = re.compile(r"[a-z0-9._~!$&'()*+,;=-]+|[0-9a-f:.]+")
"""A registered name or an IPv4/IPv6 address (lowercased), nothing else."""
_PATH_SAFE = "/:@!$&'()*+,;=%"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE_RE = re.compile(r"%[0-9a-f][0-9A-Fa-f]|%[0-9A-F][a-f]")


def _percent_encode(text: str, safe: str) -> str:
    """``text`` with everything but RFC 3986's allowed characters percent-encoded.

    Existing escapes are kept (in upper case), a ``%`` that starts none is encoded.
    """
    text = _LONE_PERCENT_RE.sub("%25", text)
    text = quote(text, safe=safe, encoding="utf-8", errors="strict")
    return _ESCAPE_RE.sub(lambda m: m[0].upper(), text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for an absolute path: ``/a/./b/../c`` is ``/a/c``."""
    if "." not in path:
        return path
    segments: list[str] = []
    parts = path.split("/")[1:]
    for i, segment in enumerate(parts):
        last = i == len(parts) - 1
        if segment == "..":
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif segment == ".":
            if last:
                segments.append("")
        else:
            segments.append(segment)
    return "/" + "/".join(segments)


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
    # A crawl runs its course: a timed run of a small site ends when the pages do.
    cycles: ClassVar[bool] = False

    # Live resources that cannot cross a process boundary: rebuilt where needed.
    # (The stop check unpickles as one that never fires: pool workers are killed.)
    _UNPICKLED = ("_site", "_session", "_robots")

    def __init__(self, options: WorkloadOptions) -> None:
        self.options = options
        self.start_url: str | None = None
        self.local_pages: int | None = None
        """Pages of the local site, or None when crawling a user's URL."""
        self.fetch_timeout_s = FETCH_TIMEOUT_S
        """The total deadline of one item: connecting, every redirect, headers, body."""
        self.reach_timeout_s = REACH_TIMEOUT_S
        """The total deadline of reading robots.txt in :meth:`prepare`."""
        self._origin: tuple[str, str] = ("", "")
        self._robots_lines: list[str] | None = None
        self._robots_mode = "allow"
        """"allow" (no usable robots.txt), "deny" (401/403/5xx) or "parse" (the lines)."""
        self._robots_note = ""
        """Why robots.txt was not used as it stands, for :meth:`describe`; "" if it was."""
        self._seen: set[str] = set()
        self._next_index = 0
        self._site: LocalSite | None = None
        self._session: aiohttp.ClientSession | None = None
        self._robots: RobotFileParser | None = None

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
                self._site = LocalSite(
                    pages, self.options.latency_ms, log_path=log, preparing=self.preparing
                )
                self.local_pages = pages
            start = self._site.start() + "/"
        else:
            start = self.options.url.strip()
            self.local_pages = None
        normalized = normalize_url(start)
        problem = url_problem(start)
        if normalized is None or problem is not None:
            raise WorkloadError(
                f"--url must be an http:// or https:// URL with a plain host name or "
                f"address (like http://example.com/); {_printable(repr(start))} {problem}"
            )
        self.start_url = normalized
        parts = urlsplit(normalized)
        self._origin = (parts.scheme, parts.netloc)
        self._seen = {normalized}
        self._next_index = 1
        self._read_robots()

    def _read_robots(self) -> None:
        """Fetch robots.txt; it doubles as the check that the site answers at all.

        Statuses are read as RFC 9309 (and ``urllib.robotparser``) do: 2xx gives the
        rules, 401/403 and 5xx forbid everything, any other 4xx means no rules.
        Redirects are followed on the start host only; one that leaves it, or loops,
        leaves the rules unavailable (no rules), and :meth:`describe` says so.
        """
        assert self.start_url is not None
        scheme, netloc = self._origin
        robots_url = f"{scheme}://{netloc}/robots.txt"
        self._robots = None
        self._robots_lines = None
        self._robots_note = ""
        cutoff = Cutoff(self.reach_timeout_s, self.stop_requested)
        try:
            answer = self._fetch_blocking(robots_url, cutoff)
        except _Skipped:
            self._robots_mode = "allow"
            self._robots_note = "robots.txt redirected to another host, not followed: no rules"
            return
        except _Refused as exc:
            self._robots_mode = "allow"
            self._robots_note = f"robots.txt unusable ({exc}): no rules"
            return
        except Stopped:
            # The run is being stopped: the model will not fetch anything anyway.
            self._robots_mode = "deny"
            return
        except OutOfTime:
            raise WorkloadError(
                f"could not reach {self.start_url}: no complete answer from /robots.txt "
                f"within {self.reach_timeout_s:g} s"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise WorkloadError(f"could not reach {self.start_url}: {_reason(exc)}") from None
        status = answer.status
        if 200 <= status < 300:
            self._robots_mode = "parse"
            self._robots_lines = answer.text().splitlines()
        elif status in (401, 403) or status >= 500:
            self._robots_mode = "deny"
            self._robots_note = f"robots.txt answered HTTP {status}: everything disallowed"
        else:
            self._robots_mode = "allow"

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
            if self._origin_of(url) != self._origin:
                continue
            # Remember refused links too, so robots.txt is asked once per URL.
            self._seen.add(url)
            if not self.allowed(url):
                continue
            new.append(Item(self._next_index, url_key(url), url))
            self._next_index += 1
        return new

    @staticmethod
    def _origin_of(url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        return parts.scheme, parts.netloc

    def close(self) -> None:
        """Stop the local site, if this workload started one."""
        site, self._site = self._site, None
        if site is not None:
            site.stop()

    def describe(self) -> str:
        note = f"; {self._robots_note}" if self._robots_note else ""
        if self.local_pages is not None:
            return (
                f"crawl the local site ({self.local_pages} pages, "
                f"{self.options.latency_ms:g} ms latency){note}"
            )
        return f"crawl {_printable(self.options.url or '')}{note}"

    # -- following redirects (both clients) ---------------------------------------------

    def _redirect_target(self, url: str, location: str, chain: list[str]) -> str:
        """Where a redirect from ``url`` leads, if the crawler may follow it.

        Raises:
            _Skipped: it leads to another host (or scheme).
            _Refused: it leads nowhere usable, back to a URL of the chain, or too far.
        """
        target = normalize_url(urljoin(url, location))
        if target is None:
            raise _Refused(f"redirected to {_printable(location)}, not an http(s) URL")
        if self._origin_of(target) != self._origin:
            raise _Skipped(f"redirected to another host ({target}), not followed")
        if target in chain:
            raise _Refused(f"redirect loop ({url_key(url)} leads back to {url_key(target)})")
        if len(chain) > MAX_REDIRECTS:
            raise _Refused(f"more than {MAX_REDIRECTS} redirects")
        chain.append(target)
        return target

    # -- worker side: blocking ------------------------------------------------------

    def _fetch_blocking(self, url: str, cutoff: Cutoff) -> _Answer:
        """GET ``url`` with every wait bounded by ``cutoff``, following redirects here."""
        chain = [url]
        while True:
            parts = urlsplit(url)
            connection = open_connection(parts.scheme, parts.hostname or "", parts.port, cutoff)
            response: http.client.HTTPResponse | None = None
            try:
                # The URL is normalized, so its path is plain ASCII, sent as it is.
                connection.request("GET", url_key(url), headers=_HEADERS)
                response = connection.getresponse()
                location = response.getheader("Location")
                if response.status in REDIRECT_STATUSES and location:
                    url = self._redirect_target(url, location, chain)
                    continue
                body = _read_capped(response)
                return _Answer(
                    url,
                    response.status,
                    response.headers.get_content_type(),
                    response.headers.get_content_charset(),
                    body,
                )
            finally:
                if response is not None:
                    response.close()
                connection.close()

    def run(self, item: Item) -> ItemResult:
        """Fetch one URL, blocking, within :attr:`fetch_timeout_s`; parse its links.

        A redirect to another host is not followed, and a fetch under way when the
        run is stopped is abandoned: either way the item comes back skipped.

        Raises:
            FetchError: a status outside 2xx, the network failed or the deadline
                passed; the message is one printable sentence.
        """
        cutoff = Cutoff(self.fetch_timeout_s, self.stop_requested)
        with current_recorder().waiting(WorkerState.WAIT_IO):
            try:
                answer = self._fetch_blocking(item.payload, cutoff)
            except _Skipped as exc:
                return _skipped(item, str(exc))
            except _Refused as exc:
                raise FetchError(f"could not fetch {item.key}: {exc}") from None
            except Stopped:
                # Left unfinished, not failed: as under the other models, where a stop
                # cancels the task or kills the worker and the item is not counted.
                return _skipped(item, "not finished: the run was stopped")
            except OutOfTime:
                raise FetchError(self._too_slow(item)) from None
            except (OSError, http.client.HTTPException) as exc:
                # One picklable exception type with a readable reason, whatever failed.
                raise FetchError(f"could not fetch {item.key}: {_reason(exc)}") from None
        return self._finish(item, answer)

    def _too_slow(self, item: Item) -> str:
        return f"could not fetch {item.key}: no complete answer within {self.fetch_timeout_s:g} s"

    @staticmethod
    def _finish(item: Item, answer: _Answer) -> ItemResult:
        if not 200 <= answer.status < 300:
            raise FetchError(f"HTTP {answer.status} for {item.key}")
        links: tuple[str, ...] = ()
        if answer.content_type in HTML_TYPES:
            links = extract_links(answer.body, answer.charset, answer.url)
        return _result(item, answer.body, links)

    # -- worker side: asyncio -------------------------------------------------------

    async def attach_async(self) -> None:
        """Open the aiohttp session every task of this loop shares."""
        if self.stop_requested():
            return  # stopped while preparing: no task will run, skip importing aiohttp
        import aiohttp

        if self._session is None:
            # No connection cap: the model's concurrency is the only limit, so the
            # race measures the model, not aiohttp's default pool of 100.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.fetch_timeout_s),
                headers=_HEADERS,
                auto_decompress=False,  # identity was asked for: hash what was sent
            )

    async def detach_async(self) -> None:
        """Close the session (and its pooled connections)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _fetch_async(self, session: aiohttp.ClientSession, url: str) -> _Answer:
        from yarl import URL

        chain = [url]
        while True:
            # encoded=True: the URL is normalized already, and must go out byte for
            # byte as the blocking client sends it.
            async with session.get(URL(url, encoded=True), allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in REDIRECT_STATUSES and location:
                    url = self._redirect_target(url, location, chain)
                    continue
                chunks: list[bytes] = []
                left = MAX_BODY_BYTES
                while left > 0:
                    chunk = await response.content.read(left)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    left -= len(chunk)
                return _Answer(
                    url, response.status, response.content_type, response.charset, b"".join(chunks)
                )

    async def run_async(self, item: Item) -> ItemResult:
        """Fetch one URL with aiohttp within :attr:`fetch_timeout_s`; parse its links.

        Raises:
            FetchError: as :meth:`run`, with the same reasons.
        """
        session = self._session
        if session is None:
            raise RuntimeError("WebWorkload.attach_async() must run before run_async()")
        import aiohttp

        with current_recorder().waiting(WorkerState.WAIT_IO):
            try:
                # One deadline for the whole chain of redirects, as in run().
                answer = await asyncio.wait_for(
                    self._fetch_async(session, item.payload), self.fetch_timeout_s
                )
            except _Skipped as exc:
                return _skipped(item, str(exc))
            except _Refused as exc:
                raise FetchError(f"could not fetch {item.key}: {exc}") from None
            except (TimeoutError, asyncio.TimeoutError):  # one type from Python 3.11 on
                raise FetchError(self._too_slow(item)) from None
            except (OSError, aiohttp.ClientError) as exc:
                raise FetchError(f"could not fetch {item.key}: {_reason(exc)}") from None
        return self._finish(item, answer)


@dataclass(frozen=True)
class _Answer:
    """A final (non-redirect) response, its body read up to the cap."""

    url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes

    def text(self) -> str:
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


class _Skipped(Exception):
    """The item leads off the start host; it is skipped, not failed."""


class _Refused(Exception):
    """A redirect the crawler will not follow (a loop, too many, not http)."""


def _skipped(item: Item, reason: str) -> ItemResult:
    return ItemResult(index=item.index, key=item.key, ok=False, skipped=True, error=reason)


def _printable(text: str, limit: int = 160) -> str:
    """Server text made printable, and capped: a hostile server's message can be long."""
    out = printable(text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _reason(exc: BaseException) -> str:
    """A short, human and printable reason for a network failure."""
    if isinstance(exc, http.client.BadStatusLine):
        return f"the server sent a malformed status line {_printable(repr(str(exc).strip()))}"
    if isinstance(exc, http.client.IncompleteRead):
        expected = len(exc.partial) + (exc.expected or 0)
        return f"the connection closed after {len(exc.partial)} of {expected} bytes"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without an answer"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return _printable(exc.strerror)
    message = getattr(exc, "message", None)  # aiohttp's response errors
    text = str(message if isinstance(message, str) and message else exc)
    if text.startswith("Bad status line"):
        # aiohttp quotes the line as bytes over several lines: say it as run() does.
        quoted = _QUOTED_BYTES_RE.search(text)
        line = f"'{quoted[1]}'" if quoted else "(unreadable)"
        return f"the server sent a malformed status line {_printable(line)}"
    # Several lines, with a caret under the fault: one line is enough.
    lines = [part.strip() for part in text.splitlines()]
    text = " ".join(part for part in lines if part and set(part) != {"^"})
    return _printable(text or type(exc).__name__)


_QUOTED_BYTES_RE = re.compile(r"b'(.*)'")


def _read_capped(response: http.client.HTTPResponse) -> bytes:
    """Read at most :data:`MAX_BODY_BYTES` from a response."""
    chunks: list[bytes] = []
    left = MAX_BODY_BYTES
    while left > 0:
        chunk = response.read(min(left, 256 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
