"""Bounded extraction: real trafilatura in real worker processes, a real hang that gets killed."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import monitors.extract as extract_mod
from monitors.extract import ExtractJob, extract_articles, extract_one
from monitors.records import ExtractedText

pytestmark = pytest.mark.timeout(60)

PARAGRAPH = (
    "North Korean leader Kim Jong Un met Russian President Vladimir Putin at the Vostochny "
    "cosmodrome on Wednesday, the Kremlin said, in a summit watched closely by Washington. "
)


def article(title: str, paragraphs: int = 4, extra: str = "") -> bytes:
    """A news article page with metadata, like the sample outlets publish."""
    body = "".join(f"<p>{PARAGRAPH}Paragraph {i}.</p>" for i in range(paragraphs))
    return (
        "<!DOCTYPE html><html lang='en'><head>"
        f"<title>{title}</title><meta name='author' content='Jane Doe'>"
        "<meta property='article:published_time' content='2023-09-13T08:00:00Z'>"
        "<meta property='og:site_name' content='Example News'></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>{extra}"
        "<footer>Copyright Example News</footer></body></html>"
    ).encode()


def extract_workers_alive() -> list[str]:
    """Command lines of this process's live children that are extraction workers (Linux)."""
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        for pid in children:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except FileNotFoundError:
                continue
            if b"monitors.extract" in cmdline:
                found.append(cmdline.decode())
    return found


def hanging_extractor(html: bytes, url: str) -> ExtractedText | None:
    """Runs in the worker: pages marked <!--hang--> spin forever (a parser stuck in a CPU loop,
    which no Python-level timeout could interrupt); other pages are extracted for real."""
    if b"<!--hang-->" in html:
        n = 0
        while True:
            n += 1
    return extract_one(html, url)


def crashing_extractor(html: bytes, url: str) -> ExtractedText | None:
    """Runs in the worker: pages marked <!--crash--> kill the process (like a segfault)."""
    import os

    if b"<!--crash-->" in html:
        os._exit(3)
    return extract_one(html, url)


def job(url: str, html: bytes | None, **kw: str) -> ExtractJob:
    return ExtractJob(
        url=url,
        html=html,
        fallback_title=kw.get("title", f"Feed title of {url}"),
        fallback_summary=kw.get("summary", f"Feed summary of {url}"),
        fetch_error=kw.get("error"),
    )


def test_extract_one_returns_text_and_metadata() -> None:
    got = extract_one(article("Kim meets Putin"), "https://example.com/kim")
    assert got is not None
    assert got.source == "page" and got.url == "https://example.com/kim"
    assert got.title == "Kim meets Putin"
    assert "Vostochny cosmodrome" in got.text and "Copyright" not in got.text
    assert got.author == "Jane Doe"
    assert got.published == datetime(2023, 9, 13, tzinfo=UTC)
    assert got.sitename == "Example News"
    assert got.language == "en"


def test_extract_one_on_a_page_without_text() -> None:
    assert extract_one(b"<html><head><title>x</title></head><body></body></html>", "u") is None


def test_results_in_input_order_with_every_kind_of_fallback() -> None:
    jobs = [
        job("https://e.com/1", article("First")),
        job("https://e.com/2", None, error="HTTP 404 Not Found from https://e.com/2"),
        job("https://e.com/3", article("Short", paragraphs=0, extra="<p>Too short.</p>")),
        job("https://e.com/4", article("Fourth")),
        job("https://e.com/5", b"<html><body></body></html>"),
    ]
    out = extract_articles(jobs, timeout_seconds=20, min_chars=200)
    assert [o.url for o in out] == [j.url for j in jobs]
    assert [o.source for o in out] == ["page", "summary", "summary", "page", "summary"]
    assert out[0].title == "First" and "Vostochny" in out[0].text
    assert out[1].note == "page fetch failed: HTTP 404 Not Found from https://e.com/2"
    assert out[1].text == "Feed summary of https://e.com/2"
    assert out[1].title == "Feed title of https://e.com/2"
    assert out[2].note is not None
    assert out[2].note.startswith("extracted text too short (") and out[2].note.endswith(" chars)")
    assert out[4].note == "no article text found on the page"


def test_a_hanging_extraction_is_killed_and_the_pool_goes_on() -> None:
    jobs = [
        job("https://e.com/a", article("Before")),
        job("https://e.com/hang", article("Hang", extra="<!--hang-->")),
        job("https://e.com/b", article("After 1")),
        job("https://e.com/c", article("After 2")),
    ]
    started = time.monotonic()
    out = extract_articles(jobs, timeout_seconds=1.5, workers=2, extractor=hanging_extractor)
    took = time.monotonic() - started
    assert [o.source for o in out] == ["page", "summary", "page", "page"]
    assert out[1].note == "extraction timed out after 1.5s"
    assert out[1].text == "Feed summary of https://e.com/hang"
    assert out[3].title == "After 2"
    assert 1.5 <= took < 15
    assert extract_workers_alive() == []


def test_a_crashed_worker_is_replaced() -> None:
    jobs = [
        job("https://e.com/crash", article("Crash", extra="<!--crash-->")),
        job("https://e.com/ok", article("Fine")),
    ]
    out = extract_articles(jobs, workers=1, extractor=crashing_extractor)
    assert out[0].source == "summary" and out[0].note == "extraction worker crashed (exit code 3)"
    assert out[1].source == "page" and out[1].title == "Fine"


def test_no_pool_without_html() -> None:
    before = extract_mod._WORKERS_STARTED
    assert extract_articles([]) == []
    out = extract_articles([job("https://e.com/x", None, error="timed out")])
    assert out[0].note == "page fetch failed: timed out"
    assert extract_mod._WORKERS_STARTED - before == 0


def test_one_pool_per_call_not_per_page() -> None:
    before = extract_mod._WORKERS_STARTED
    jobs = [job(f"https://e.com/{i}", article(f"Story {i}")) for i in range(6)]
    out = extract_articles(jobs, workers=2)
    assert all(o.source == "page" for o in out)
    assert extract_mod._WORKERS_STARTED - before == 2


def unloadable_extractor(html: bytes, url: str) -> ExtractedText | None:
    """Claims to live in a module the worker cannot import, so every worker fails to start."""
    return None


unloadable_extractor.__module__ = "tests.monitors.no_such_module"


def test_workers_that_cannot_start_give_up_with_a_note() -> None:
    before = extract_mod._WORKERS_STARTED
    jobs = [job(f"https://e.com/{i}", article(f"S{i}")) for i in range(3)]
    out = extract_articles(jobs, workers=2, extractor=unloadable_extractor)
    assert [o.source for o in out] == ["summary"] * 3
    assert all((o.note or "").startswith("extraction workers failed to start") for o in out)
    assert extract_mod._WORKERS_STARTED - before <= 3  # no respawn loop
    assert extract_workers_alive() == []
