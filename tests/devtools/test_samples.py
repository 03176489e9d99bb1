"""The bundled sample feeds (samples/) and the sample server (devtools.samples)."""

from __future__ import annotations

import http.client
import json
import re
import statistics
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import feedparser
import lxml.html
import pytest

from devtools.samples import make_sample_server, start_in_thread
from scripts.shared_data import CORPORA

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
SEED_003 = REPO / "seeds" / "003_4a941d7cde7f6a05.txt"


class Client:
    """Raw http.client requests (no path normalisation, so traversal attempts reach the server)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.base = f"http://{host}:{port}"

    def get(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


def _serve(root: Path) -> Iterator[Client]:
    server = make_sample_server(root, host="127.0.0.1", port=0)
    start_in_thread(server)
    try:
        yield Client("127.0.0.1", int(server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    yield from _serve(SAMPLES)


@pytest.fixture(scope="module")
def feeds() -> list[dict[str, object]]:
    return json.loads((SAMPLES / "feeds.json").read_text("utf-8"))


def _seed_copy_id() -> str:
    readme = (SAMPLES / "README.md").read_text("utf-8")
    m = re.search(r"`(guardian:[0-9a-f]{12})` 2023-10-19 — .*\(copy of seed 003\)", readme)
    assert m, "README lists the seed copy"
    return m.group(1)


def test_index_lists_every_feed(client: Client, feeds: list[dict[str, object]]) -> None:
    status, headers, body = client.get("/index.txt")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert body.decode().split() == [f["path"] for f in feeds]
    assert len(feeds) == 6


def test_feeds_parse_with_counts_and_local_links(
    client: Client, feeds: list[dict[str, object]]
) -> None:
    for feed in feeds:
        status, headers, body = client.get(str(feed["path"]))
        assert status == 200
        assert headers["content-type"] == "application/rss+xml; charset=utf-8"
        assert b"{{BASE}}" not in body
        parsed = feedparser.parse(body)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert len(parsed.entries) == feed["items"]
        for entry in parsed.entries:
            assert entry.link.startswith(f"{client.base}/articles/{feed['name']}/")
            assert entry.id.startswith(f"{feed['name']}:")
        dates = [e.published_parsed for e in parsed.entries]
        assert dates == sorted(dates, reverse=True), "newest first"


def test_north_korea_coverage_of_the_chosen_days(client: Client) -> None:
    _, _, body = client.get("/feeds/nbcnews-world.xml")
    titles = {e.id: e.title for e in feedparser.parse(body).entries}
    # 31 Aug arms talks, 13 Sep summit, 16 Oct Lavrov visit announced, 19 Oct Lavrov in Pyongyang
    assert (
        "Arms talks between Russia and North Korea advancing"
        in titles["nbcnews-world:4f6c1d2467ea"]
    )
    assert "Putin" in titles["nbcnews-world:e878c4dccdb9"]
    assert "foreign minister will visit North Korea" in titles["nbcnews-world:6c9eef394414"]
    assert "thanks North Korea" in titles["nbcnews-world:ad838708c2cf"]
    _, _, body = client.get("/feeds/wsj-world.xml")
    wsj = {e.id: e.title for e in feedparser.parse(body).entries}
    assert wsj["wsj-world:2dcbc2b0f61f"].startswith("U.S. Sanctions Russian Company")


def test_article_page_carries_title_and_metadata(client: Client) -> None:
    _, _, body = client.get("/feeds/guardian.xml")
    entry = next(
        e for e in feedparser.parse(body).entries if e.id == "guardian:01ba64d516b9"
    )  # Lavrov hails 'new level' of ties, 19 Oct
    path = entry.link.removeprefix(client.base)
    status, headers, page = client.get(path)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    doc = lxml.html.fromstring(page)
    assert doc.findtext(".//h1") == entry.title
    assert doc.xpath('string(//meta[@property="og:site_name"]/@content)') == "The Guardian"
    assert doc.xpath('string(//meta[@property="article:published_time"]/@content)') == (
        "2023-10-19T05:56:47Z"
    )
    body_text = " ".join(doc.xpath("//article//p/text()"))
    assert "Lavrov" in body_text and "qualitatively new, strategic level" in body_text
    related = doc.xpath("//aside//a/@href")
    assert related and all(h.startswith(f"{client.base}/articles/guardian/") for h in related)
    for href in related:
        assert client.get(href.removeprefix(client.base))[0] == 200


def test_seed_copy_page_holds_seed_003_text(client: Client) -> None:
    seed_id = _seed_copy_id()
    _, _, feed = client.get("/feeds/guardian.xml")
    entry = next(e for e in feedparser.parse(feed).entries if e.id == seed_id)
    assert entry.published.startswith("Thu, 19 Oct 2023")
    assert (
        entry.title
        == "The rapprochement between Russia and North Korea goes alongside three traces"
    )
    status, _, page = client.get(entry.link.removeprefix(client.base))
    assert status == 200
    text = " ".join(lxml.html.fromstring(page).xpath("//article//p/text()"))
    seed = SEED_003.read_text("utf-8")
    passages = [p.strip() for p in seed.split("\n") if len(p.strip()) > 300]
    assert len(passages) >= 5
    for passage in passages:
        assert passage in text


def test_conditional_requests(client: Client) -> None:
    status, headers, body = client.get("/feeds/bbc-news.xml")
    assert status == 200 and body
    etag, last_modified = headers["etag"], headers["last-modified"]
    status, headers2, body2 = client.get("/feeds/bbc-news.xml", {"If-None-Match": etag})
    assert (status, body2, headers2["etag"]) == (304, b"", etag)
    status, _, _ = client.get("/feeds/bbc-news.xml", {"If-None-Match": '"other"'})
    assert status == 200
    status, _, body3 = client.get("/feeds/bbc-news.xml", {"If-Modified-Since": last_modified})
    assert (status, body3) == (304, b"")
    before = formatdate((SAMPLES / "feeds" / "bbc-news.xml").stat().st_mtime - 60, usegmt=True)
    assert client.get("/feeds/bbc-news.xml", {"If-Modified-Since": before})[0] == 200
    status, headers, body = client.get("/feeds/bbc-news.xml", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 10_000


def test_base_placeholder_follows_the_port(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<a href="{{BASE}}/x">x</a>', "utf-8")
    (tmp_path / "a.txt").write_text("{{BASE}}", "utf-8")
    for c in _serve(tmp_path):
        status, _, body = c.get("/a.html")
        assert (status, body) == (200, f'<a href="{c.base}/x">x</a>'.encode())
        assert c.get("/a.txt")[2] == b"{{BASE}}"  # only .xml and .html are rewritten


def test_missing_paths_and_traversal_are_404(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "feeds").mkdir(parents=True)
    (root / "feeds" / "ok.xml").write_text("<rss/>", "utf-8")
    (tmp_path / "secret.txt").write_text("secret", "utf-8")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    for c in _serve(root):
        assert c.get("/feeds/ok.xml")[0] == 200
        for path in (
            "/feeds/missing.xml",
            "/feeds/",
            "/../secret.txt",
            "/feeds/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/feeds/%2E%2E/%2E%2E/secret.txt",
            "/..%2fsecret.txt",
            "//etc/passwd",
            "/link.txt",
        ):
            status, _, body = c.get(path)
            assert status == 404, path
            assert b"secret" not in body


def test_real_sample_folder_rejects_traversal(client: Client) -> None:
    assert (REPO / "pyproject.toml").is_file()
    for path in ("/../pyproject.toml", "/%2e%2e/pyproject.toml", "/nope.xml"):
        status, _, body = client.get(path)
        assert status == 404, path
        assert b"[project]" not in body


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="sample folder not found"):
        make_sample_server(tmp_path / "absent", port=0)


@pytest.mark.skipif(
    not (CORPORA / "rss2023" / "guardian.jsonl.gz").is_file(),
    reason=f"rss2023 corpus not available at {CORPORA}; cannot rebuild samples to compare",
)
def test_committed_samples_are_up_to_date(tmp_path: Path) -> None:
    from scripts.build_samples import build_samples

    build_samples(CORPORA, tmp_path, REPO / "seeds")
    committed = {p.relative_to(SAMPLES) for p in SAMPLES.rglob("*") if p.is_file()}
    rebuilt = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert committed == rebuilt
    stale = [
        str(p) for p in sorted(rebuilt) if (tmp_path / p).read_bytes() != (SAMPLES / p).read_bytes()
    ]
    assert not stale, f"samples/ is stale; run `python -m scripts.build_samples`: {stale[:5]}"
    total = sum((SAMPLES / p).stat().st_size for p in committed)
    assert total < 3_000_000


def test_keep_alive_requests_are_not_held_back_by_nagle(client: Client) -> None:
    """Requests on one keep-alive connection answer at once, not after the client's delayed
    ACK (~40 ms each when the server leaves Nagle's algorithm on)."""
    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    times = []
    try:
        for _ in range(21):
            t = time.perf_counter()
            conn.request("GET", "/index.txt")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read()
            times.append(time.perf_counter() - t)
    finally:
        conn.close()
    assert statistics.median(times[1:]) < 0.02, f"per-request times {times}"
