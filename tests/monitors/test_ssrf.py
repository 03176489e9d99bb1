"""The SSRF guard: addresses refused, allow_networks, redirects to internal hosts."""

from __future__ import annotations

import time

import pytest

from monitors.errors import (
    BlockedAddress,
)
from monitors.fetch_settings import FetchSettings
from monitors.httpclient import Fetcher
from monitors.ssrf import address_problem
from tests.support.fetching import FEED, RSS, poll, settings
from tests.support.httpserver import Response

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://127.0.0.1:{port}/secret", "loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address"),
        ("http://10.1.2.3/", "private network address"),
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
    ],
)
def test_page_redirect_to_an_internal_address_is_refused(pages, server, fetcher, target, reason):
    server.route("/secret", Response(200, b"internal"))
    pages.route("/go", Response(302, b"", {"Location": target.format(port=server.port)}))
    started = time.monotonic()
    with pytest.raises(BlockedAddress) as info:
        fetcher.get(pages.url("/go"), kind="page")
    assert time.monotonic() - started < 1  # refused before any connection attempt
    assert reason in str(info.value) and pages.url("/go") in str(info.value)
    assert server.requests_to("/secret") == []


def test_page_on_a_private_host_is_refused_but_allow_networks_opens_it(server) -> None:
    server.route("/page", Response(200, b"<html>ok</html>"))
    with Fetcher(settings()) as f, pytest.raises(BlockedAddress) as info:
        f.get(server.url("/page"), kind="page")
    assert "127.0.0.1 is a loopback address" in str(info.value)
    assert "fetch.allow_networks" in str(info.value)
    with Fetcher(settings(allow_networks=["127.0.0.0/8"])) as f:
        assert f.get(server.url("/page"), kind="page").content == b"<html>ok</html>"


def test_feed_host_is_trusted_but_a_redirect_off_host_is_checked(server, pages) -> None:
    """Feeds on 127.0.0.1 work (the user configured them); their redirects elsewhere do not."""
    server.route("/feed", Response(200, FEED, {}, RSS))
    pages.route("/feed", Response(302, b"", {"Location": server.url("/feed")}))
    with Fetcher(settings(allow_networks=[])) as f:
        assert f.get(server.url("/feed"), kind="feed").status == 200
        result = poll(f, pages.url("/feed"))
    assert result.status == "failed" and isinstance(result.error, BlockedAddress)
    assert "redirects off its own host" in result.message
    assert len(server.requests_to("/feed")) == 1


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "CGNAT"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    import ipaddress

    got = address_problem(ipaddress.ip_address(address))
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


def test_allow_networks_must_be_cidrs() -> None:
    with pytest.raises(ValueError, match="not a CIDR network"):
        FetchSettings(allow_networks=["intranet"])
