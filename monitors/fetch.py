"""HTTP fetching of feeds and article pages with hard limits (see FetchSettings).

One `Fetcher` is shared by every feed of a run (it is thread-safe). Every request has a connect
timeout, a read timeout, a total deadline that also bounds streaming, and a size cap measured on
the decompressed body while it streams (a gzip bomb stops at the cap, with memory bounded by the
cap). Redirects are followed by hand so each hop is checked: scheme (http/https only), loops,
count, and for untrusted hops the SSRF guard.

SSRF guard. Article links come from third-party feeds, so every connection made for
`kind="page"` goes through a network backend that resolves the host itself, refuses loopback,
private, link-local (169.254.169.254, the cloud metadata address), CGNAT, unique-local,
unspecified, multicast and reserved addresses unless they are in `allow_networks`, and then
connects to the address it vetted (so a DNS answer cannot change between check and connect).
Feed URLs are written by the user in the monitor file, so a feed's own host is trusted (a feed on
an intranet host works); but once a feed redirects to a different host the rest of the chain is
untrusted and guarded like a page.

`poll_feed` turns one poll of one feed into a `PollResult` and the feed's next `FeedState`:
conditional GET (with a periodic unconditional fetch, because servers get validators wrong),
301/308 moves, 410 Gone, exponential backoff with jitter, Retry-After and Cache-Control max-age.
It never raises for a feed-level failure.
"""

from __future__ import annotations

import dataclasses
import email.utils
import ipaddress
import random
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitors.errors import (
    BlockedAddress,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)
from monitors.feeds import parse_feed
from monitors.records import FeedItem

Kind = Literal["feed", "page"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchSettings(BaseModel):
    """Limits and politeness of the fetcher; `fetch:` in a monitor file."""

    model_config = ConfigDict(extra="forbid")

    connect_timeout: float = Field(10.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(20.0, gt=0, description="seconds between two bytes")
    total_timeout: float = Field(60.0, gt=0, description="deadline for one request, seconds")
    max_feed_bytes: int = Field(10_000_000, gt=0)
    max_page_bytes: int = Field(5_000_000, gt=0)
    max_redirects: int = Field(5, ge=0)
    user_agent: str = "newsmon/0.1 (+{contact_url})"
    contact_url: str = "https://github.com/newsmon/newsmon"
    allow_networks: list[str] = Field(
        default_factory=list,
        description="CIDR networks article links may resolve to despite the SSRF guard",
    )
    per_host_concurrency: int = Field(
        2, ge=1, le=16, description="requests in flight to one host at a time (politeness)"
    )
    force_full_fetch_every: int = Field(
        10,
        ge=1,
        description="every Nth poll of a feed ignores ETag/Last-Modified (servers get them wrong)",
    )
    max_backoff_minutes: float = Field(
        360.0, gt=0, description="longest wait after repeated failures (6 h: 4 tries a day)"
    )
    max_cache_minutes: float = Field(
        240.0,
        gt=0,
        description="longest Cache-Control max-age honoured; a year-long max-age must not "
        "silence a news feed",
    )
    max_retry_after_minutes: float = Field(
        1440.0, gt=0, description="longest Retry-After honoured (a day)"
    )

    @field_validator("allow_networks")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"not a CIDR network like '10.0.0.0/8': {net!r}") from None
        return v


#: Total connections the shared client keeps; per-host politeness is `per_host_concurrency`.
MAX_CONNECTIONS = 32
#: Idle keep-alive connections kept, and for how long (seconds).
MAX_KEEPALIVE = 16
KEEPALIVE_SECONDS = 30.0
#: Decompressed bytes produced per step when inflating gzip/deflate, so a bomb never expands
#: more than this past the size cap in memory.
DECODE_CHUNK = 64 * 1024
#: A socket timeout this close to the request's deadline is reported as the deadline (seconds).
DEADLINE_SLACK = 0.05
#: Jitter applied to backoff delays (±10%) so failing feeds do not retry in lockstep.
BACKOFF_JITTER = 0.10

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_ACCEPT = {
    "feed": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5",
    "page": "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
}
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)

# The deadline (time.monotonic) of the request the current thread is making, read by the
# network streams on every socket operation.
_local = threading.local()


# --- SSRF guard ----------------------------------------------------------------------------
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_problem(ip: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why newsmon refuses to connect to `ip` for an untrusted URL, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded, allowed)
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address (cloud metadata services live here)"
    if ip.is_multicast:
        return "multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (CGNAT) address"
    if ip.is_reserved:
        return "reserved address"
    if ip.is_private:
        return "private network address"
    if not ip.is_global:
        return "non-public address"
    return None


class _Blocked(Exception):
    """Raised by the guarded backend; turned into BlockedAddress with the URL by the Fetcher."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host, self.address, self.reason = host, address, reason
        shown = f"{host} is" if host.strip("[]") == address else f"{host} resolves to {address},"
        super().__init__(f"{shown} a {reason}")


def _clip(timeout: float | None, exc: type[Exception]) -> float | None:
    """The socket timeout to use now: the given one, shortened to the request's deadline."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise exc("total deadline exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write also stops at the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        t = _clip(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, t))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore network backend: deadline-bounded sockets, optionally SSRF-guarded connects."""

    def __init__(self, allowed: list[IPNetwork] | None) -> None:
        self._inner = httpcore.SyncBackend()
        self._allowed = allowed  # None: unguarded

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clip(timeout, httpcore.ConnectTimeout)
        if self._allowed is None:
            inner = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            return _DeadlineStream(inner)
        last: Exception | None = None
        for address in self._vetted(host, port):
            try:
                inner = self._inner.connect_tcp(
                    address, port, _clip(timeout, httpcore.ConnectTimeout), local_address,
                    socket_options,
                )  # fmt: skip
                return _DeadlineStream(inner)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    def _vetted(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]
            reason = address_problem(ipaddress.ip_address(address), self._allowed or ())
            if reason is not None:
                raise _Blocked(host, address, reason)
            if address not in addresses:
                addresses.append(address)
        return addresses

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by newsmon")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    """httpx's transport on a connection pool that uses our network backend.

    HTTPTransport's methods only use `self._pool`; its __init__ is not called because it would
    build (and load certificates for) a pool that is thrown away.
    """

    def __init__(self, backend: _Backend, ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE,
            keepalive_expiry=KEEPALIVE_SECONDS,
            network_backend=backend,
        )


# --- the fetcher ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FetchResponse:
    """A successful (2xx or 304) response, after redirects, with the decompressed body."""

    requested_url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    permanent_redirect: str | None
    elapsed: float
    bytes_received: int


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _status_advice(status: int) -> str:
    if status == 429:
        return "the server is rate-limiting newsmon; it will retry later"
    if status >= 500:
        return "server error; it will be retried with backoff"
    if status in (401, 403):
        return "the server refuses access; check the URL or whether it needs a login"
    if status in (404, 410):
        return "check the URL"
    return "check the URL"


class Fetcher:
    """Thread-safe HTTP client shared by every feed and page of a run.

    `get` follows redirects itself, enforces the limits of `FetchSettings`, caps concurrency
    per host, and raises the `FetchError` subclasses. Counters `requests` (HTTP requests sent,
    every redirect hop counts) and `bytes_received` (body bytes as received on the wire).
    """

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        s = self.settings
        allowed: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in s.allow_networks]
        self.user_agent = s.user_agent.format(contact_url=s.contact_url)
        common: dict[str, Any] = {
            "headers": {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
            "timeout": httpx.Timeout(
                connect=s.connect_timeout,
                read=s.read_timeout,
                write=s.read_timeout,
                pool=s.total_timeout,
            ),
            "follow_redirects": False,
            "trust_env": False,  # no proxy from the environment: the SSRF guard must see hosts
        }
        tls = httpx.create_ssl_context(trust_env=False)
        self._trusted = httpx.Client(transport=_Transport(_Backend(None), tls), **common)
        self._guarded = httpx.Client(transport=_Transport(_Backend(allowed), tls), **common)
        self._lock = threading.Lock()
        self._claimed: set[str] = set()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._requests = 0
        self._bytes = 0

    # counters ----------------------------------------------------------------------------
    def claim(self, key: str) -> bool:
        """True the first time `key` (e.g. a page URL) is claimed on this fetcher, then False.

        Feeds polled concurrently in one run use it so an entry listed by several feeds has
        its page downloaded once.
        """
        with self._lock:
            if key in self._claimed:
                return False
            self._claimed.add(key)
            return True

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (each redirect hop counts)."""
        with self._lock:
            return self._requests

    @property
    def bytes_received(self) -> int:
        """Body bytes received so far, as sent on the wire (before decompression)."""
        with self._lock:
            return self._bytes

    # lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close every connection."""
        self._trusted.close()
        self._guarded.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # politeness --------------------------------------------------------------------------
    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        with self._lock:
            slot = self._slots.get(host)
            if slot is None:
                slot = self._slots[host] = threading.BoundedSemaphore(
                    self.settings.per_host_concurrency
                )
        # No timeout on the wait: every holder is bounded by its own deadline, so the wait is
        # bounded too, and a queue of links to one busy host must not fail for being a queue.
        slot.acquire()
        try:
            yield
        finally:
            slot.release()

    # requests ----------------------------------------------------------------------------
    def get(self, url: str, *, kind: Kind, headers: dict[str, str] | None = None) -> FetchResponse:
        """GET `url` as a feed or an article page, following redirects under the limits.

        Returns a FetchResponse for 2xx and 304; raises HTTPStatusError for 4xx/5xx,
        FetchTimeout, ConnectFailed, ResponseTooLarge, TooManyRedirects or BlockedAddress.
        """
        s = self.settings
        cap = s.max_feed_bytes if kind == "feed" else s.max_page_bytes
        start = time.monotonic()
        deadline: float | None = None  # starts once the first host slot is held
        what = "feed" if kind == "feed" else "page"
        request_headers = {"Accept": _ACCEPT[kind], **(headers or {})}
        origin = (urlsplit(url).hostname or "").lower()
        current = url
        seen = {self._key(url)}
        permanent: str | None = None
        leading_permanent = True
        received = 0
        for _hop in range(s.max_redirects + 1):
            scheme = urlsplit(current).scheme.lower()
            if scheme not in ("http", "https"):
                raise BlockedAddress(
                    f"Refusing to fetch {what} {current} (requested as {url}): scheme "
                    f"{scheme or '(none)'!r} is not http or https",
                    url=url,
                )
            host = (urlsplit(current).hostname or "").lower()
            guarded = kind == "page" or host != origin
            client = self._guarded if guarded else self._trusted
            hop_headers = request_headers
            if host != origin:  # credentials and cookies never follow a redirect off-host
                hop_headers = {
                    k: v
                    for k, v in request_headers.items()
                    if k.lower() not in ("authorization", "cookie")
                }
            with self._host_slot(host):
                if deadline is None:
                    deadline = time.monotonic() + s.total_timeout
                status, resp_headers, body, raw = self._one(
                    client, current, hop_headers, cap=cap, deadline=deadline, url=url, what=what
                )
            received += raw
            location = resp_headers.get("location")
            if status in _REDIRECTS and location:
                target = str(httpx.URL(current).join(location))
                if self._key(target) in seen:
                    raise TooManyRedirects(
                        f"Redirect loop fetching {what} {url}: {current} redirects back to "
                        f"{target}; the server is misconfigured; check the URL",
                        url=url,
                    )
                seen.add(self._key(target))
                if status in _PERMANENT and leading_permanent:
                    permanent = target
                else:
                    leading_permanent = False
                current = target
                continue
            if status >= 400:
                retry_after = parse_retry_after(resp_headers.get("retry-after"))
                phrase = _reason(status)
                raise HTTPStatusError(
                    f"HTTP {status} {phrase} from {current} fetching {what} {url}; "
                    f"{_status_advice(status)}",
                    url=url,
                    status=status,
                    retry_after=retry_after,
                )
            return FetchResponse(
                requested_url=url,
                final_url=current,
                status=status,
                headers=resp_headers,
                content=body,
                permanent_redirect=permanent,
                elapsed=time.monotonic() - start,
                bytes_received=received,
            )
        raise TooManyRedirects(
            f"More than {s.max_redirects} redirects fetching {what} {url} (last: {current}); "
            "check the URL",
            url=url,
        )

    @staticmethod
    def _key(url: str) -> str:
        try:
            return str(httpx.URL(url)).rstrip("/")
        except httpx.InvalidURL:
            return url

    def _one(
        self,
        client: httpx.Client,
        current: str,
        headers: dict[str, str],
        *,
        cap: int,
        deadline: float,
        url: str,
        what: str,
    ) -> tuple[int, dict[str, str], bytes, int]:
        """One request without redirects: (status, lowercased headers, body, raw bytes)."""
        s = self.settings
        remaining = deadline - time.monotonic()
        via = "" if current == url else f" (redirected from {url})"
        if remaining <= 0:
            raise FetchTimeout(
                f"Total deadline of {s.total_timeout:g}s exceeded fetching {what} {current}{via} "
                "before the last redirect; the server is too slow; it will be retried",
                url=url,
            )
        try:
            request = client.build_request(
                "GET",
                current,
                headers=headers,
                timeout=httpx.Timeout(
                    connect=min(s.connect_timeout, remaining),
                    read=min(s.read_timeout, remaining),
                    write=min(s.read_timeout, remaining),
                    pool=remaining,
                ),
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            err = FetchError(f"Invalid URL {current!r} for {what} {url}: {exc}", url=url)
            err.transient = False
            raise err from None
        with self._lock:
            self._requests += 1
        _local.deadline = deadline
        response: httpx.Response | None = None
        try:
            response = client.send(request, stream=True)
            status = response.status_code
            resp_headers = {k.lower(): v for k, v in response.headers.items()}
            body = b""
            if 200 <= status < 300 and status != 204:
                body = self._read_body(response, cap=cap, deadline=deadline, url=url, what=what)
            return status, resp_headers, body, response.num_bytes_downloaded
        except _Blocked as exc:
            why = (
                "newsmon does not contact internal addresses for article links"
                if what == "page"
                else "a feed that redirects off its own host is treated like an article link"
            )
            raise BlockedAddress(
                f"Refusing to fetch {what} {current}{via}: {exc}; {why} (add the network to "
                "fetch.allow_networks if this is intended)",
                url=url,
            ) from None
        except httpx.TimeoutException as exc:
            past_deadline = time.monotonic() >= deadline - DEADLINE_SLACK
            raise self._timeout(
                exc, current=current, via=via, what=what, url=url, past_deadline=past_deadline
            ) from None
        except httpx.ConnectError as exc:
            host = urlsplit(current).hostname
            raise ConnectFailed(
                f"Could not connect to {host} fetching {what} {current}{via}: {exc or 'refused'}; "
                "check the URL; if the site is up, it will be retried",
                url=url,
            ) from None
        except httpx.TransportError as exc:
            raise FetchError(
                f"Connection error fetching {what} {current}{via}: "
                f"{type(exc).__name__}: {exc}; it will be retried",
                url=url,
            ) from None
        finally:
            _local.deadline = None
            if response is not None:
                with self._lock:
                    self._bytes += response.num_bytes_downloaded
                response.close()

    def _timeout(
        self,
        exc: httpx.TimeoutException,
        *,
        current: str,
        via: str,
        what: str,
        url: str,
        past_deadline: bool,
    ) -> FetchTimeout:
        s = self.settings
        if past_deadline or "total deadline" in str(exc):
            cause = f"total deadline of {s.total_timeout:g}s exceeded"
        elif isinstance(exc, httpx.ConnectTimeout):
            cause = f"could not connect within {s.connect_timeout:g}s"
        elif isinstance(exc, httpx.PoolTimeout):
            cause = "no free connection in the pool"
        else:
            cause = f"no data for {s.read_timeout:g}s"
        return FetchTimeout(
            f"Timed out fetching {what} {current}{via}: {cause}; the server is slow or "
            "unreachable; it will be retried",
            url=url,
        )

    def _read_body(
        self, response: httpx.Response, *, cap: int, deadline: float, url: str, what: str
    ) -> bytes:
        s = self.settings
        encoding = response.headers.get("content-encoding", "").strip().lower()
        declared = response.headers.get("content-length", "")
        limit = f"{cap:,} bytes"
        where = f"{what} {url}"
        if encoding in ("", "identity") and declared.isdigit() and int(declared) > cap:
            raise ResponseTooLarge(
                f"The {where} is {int(declared):,} bytes (Content-Length), over the cap of "
                f"{limit}; raise fetch.max_{what}_bytes if this is a real {what}",
                url=url,
            )
        chunks: Iterator[bytes]
        if encoding in ("gzip", "x-gzip", "deflate"):
            chunks = _inflate(response.iter_raw(), encoding)
        elif encoding in ("", "identity"):
            chunks = response.iter_raw()
        else:  # an encoding we did not ask for: let httpx decode it (or fail)
            chunks = response.iter_bytes()
        buf = bytearray()
        try:
            for chunk in chunks:
                buf += chunk
                if len(buf) > cap:
                    raise ResponseTooLarge(
                        f"The {where} is larger than the cap of {limit} after decompression "
                        f"(stopped at {len(buf):,}); raise fetch.max_{what}_bytes if this is a "
                        f"real {what}",
                        url=url,
                    )
                if time.monotonic() > deadline:
                    raise FetchTimeout(
                        f"Total deadline of {s.total_timeout:g}s exceeded while downloading "
                        f"{where} ({len(buf):,} bytes so far); the server is too slow; "
                        "it will be retried",
                        url=url,
                    )
        except (zlib.error, httpx.DecodingError) as exc:
            raise FetchError(
                f"Could not decompress the {where} ({encoding}): {exc}; the server sent a "
                "corrupt body; it will be retried",
                url=url,
            ) from None
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return bytes(buf)


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _inflate(raw_chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """Decompress gzip/deflate incrementally, at most DECODE_CHUNK bytes per step."""
    gzip = encoding != "deflate"
    wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    first = True
    for raw in raw_chunks:
        data = raw
        if first and not gzip and data:
            first = False
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate
            if (data[0] & 0x0F) != 8 or len(data) < 2 or (data[0] * 256 + data[1]) % 31:
                d = zlib.decompressobj(-zlib.MAX_WBITS)
        while data:
            out = d.decompress(data, DECODE_CHUNK)
            if out:
                yield out
            if d.eof:
                data = d.unused_data
                if data and gzip:  # the next member of a multi-member gzip body
                    d = zlib.decompressobj(wbits)
                    continue
                break
            data = d.unconsumed_tail
            while not data and len(out) == DECODE_CHUNK:  # drain output zlib still holds
                out = d.decompress(b"", DECODE_CHUNK)
                if out:
                    yield out
    if not d.eof:
        tail = d.flush()
        if tail:
            yield tail


def fetch_pages(
    fetcher: Fetcher, urls: list[str], *, max_workers: int = 8
) -> dict[str, FetchResponse | FetchError]:
    """Fetch article pages concurrently; each URL maps to its response or its FetchError.

    The per-host limit of the fetcher still applies, so many links to one site queue politely.
    Duplicate URLs are fetched once.
    """
    unique = list(dict.fromkeys(urls))
    if not unique:
        return {}

    def one(u: str) -> FetchResponse | FetchError:
        try:
            return fetcher.get(u, kind="page")
        except FetchError as exc:
            return exc

    with ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(unique))), thread_name_prefix="newsmon-page"
    ) as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))


# --- polling a feed ------------------------------------------------------------------------
@dataclass(slots=True)
class FeedState:
    """What newsmon remembers about a feed between polls."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    polls_since_full: int = 0
    consecutive_failures: int = 0
    next_due_at: datetime | None = None
    disabled_reason: str | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None


@dataclass(slots=True)
class PollResult:
    """The outcome of one poll: status, items (when ok), the feed's new state, a message."""

    feed_name: str
    status: Literal["ok", "not_modified", "failed", "gone"]
    items: list[FeedItem]
    state: FeedState
    error: FetchError | None
    message: str
    moved_to: str | None = None


def backoff_delay(
    interval: timedelta, failures: int, settings: FetchSettings, rng: random.Random
) -> timedelta:
    """interval × 2^failures, capped at max_backoff_minutes, with ±10% jitter."""
    cap = settings.max_backoff_minutes * 60.0
    base = min(interval.total_seconds() * (2.0 ** min(failures, 30)), cap)
    return timedelta(seconds=base * (1.0 + rng.uniform(-BACKOFF_JITTER, BACKOFF_JITTER)))


def _success_delay(
    interval: timedelta, headers: dict[str, str], settings: FetchSettings
) -> timedelta:
    m = _MAX_AGE.search(headers.get("cache-control", ""))
    if not m:
        return interval
    max_age = min(float(m.group(1)), settings.max_cache_minutes * 60.0)
    return max(interval, timedelta(seconds=max_age))


def poll_feed(
    fetcher: Fetcher,
    *,
    feed_name: str,
    state: FeedState,
    now: datetime,
    interval: timedelta,
    settings: FetchSettings,
    rng: random.Random | None = None,
) -> PollResult:
    """Poll one feed once; never raises for feed-level failures (status "failed"/"gone")."""
    rng = rng or random.Random()
    new = dataclasses.replace(state)
    full = (
        state.etag is None and state.last_modified is None
    ) or state.polls_since_full + 1 >= settings.force_full_fetch_every
    headers: dict[str, str] = {}
    if not full:
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
    try:
        response = fetcher.get(state.url, kind="feed", headers=headers)
        items: list[FeedItem] = []
        if response.status != 304:
            items = parse_feed(
                response.content,
                feed_name=feed_name,
                url=response.final_url,
                content_type=response.headers.get("content-type"),
            )
    except FetchError as exc:
        return _failed(new, exc, feed_name=feed_name, now=now, interval=interval,
                       settings=settings, rng=rng)  # fmt: skip

    moved_to = response.permanent_redirect
    if moved_to:
        new.url = moved_to
    new.polls_since_full = 0 if full else state.polls_since_full + 1
    new.consecutive_failures = 0
    new.last_error = None
    new.last_success_at = now
    new.next_due_at = now + _success_delay(interval, response.headers, settings)
    moved = (
        f"; it moved permanently to {moved_to} (newsmon now polls the new URL; update the "
        "monitor file)"
        if moved_to
        else ""
    )
    if response.status == 304:
        # a 304 may carry refreshed validators (RFC 9110 15.4.5)
        new.etag = response.headers.get("etag", state.etag)
        new.last_modified = response.headers.get("last-modified", state.last_modified)
        return PollResult(
            feed_name, "not_modified", [], new, None,
            f"Feed {feed_name!r} not modified since the last poll (304){moved}",
            moved_to,
        )  # fmt: skip
    new.etag = response.headers.get("etag")
    new.last_modified = response.headers.get("last-modified")
    return PollResult(
        feed_name, "ok", items, new, None,
        f"Feed {feed_name!r}: {len(items)} entries from {response.final_url}"
        f"{' (unconditional fetch)' if full and state.etag else ''}{moved}",
        moved_to,
    )  # fmt: skip


def _failed(
    new: FeedState,
    exc: FetchError,
    *,
    feed_name: str,
    now: datetime,
    interval: timedelta,
    settings: FetchSettings,
    rng: random.Random,
) -> PollResult:
    if isinstance(exc, HTTPStatusError) and exc.status == 410:
        reason = (
            f"Feed {feed_name!r} ({new.url}) returned 410 Gone; the feed was disabled; "
            "remove it from the monitor file or fix the URL"
        )
        new.consecutive_failures += 1
        new.disabled_reason = reason
        new.last_error = reason
        new.next_due_at = None
        return PollResult(feed_name, "gone", [], new, exc, reason)
    new.consecutive_failures += 1
    due = now + backoff_delay(interval, new.consecutive_failures, settings, rng)
    if (
        isinstance(exc, HTTPStatusError)
        and exc.status in (429, 503)
        and exc.retry_after is not None
    ):
        wait = min(exc.retry_after, settings.max_retry_after_minutes * 60.0)
        due = max(due, now + timedelta(seconds=wait))
    new.next_due_at = due
    message = (
        f"Feed {feed_name!r} failed ({new.consecutive_failures} in a row): {exc}; "
        f"next poll at {due.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
    new.last_error = message
    return PollResult(feed_name, "failed", [], new, exc, message)
