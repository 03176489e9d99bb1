"""Rendering of alerts: payload round trip, Slack Block Kit, text, HTML, threaded email."""

from __future__ import annotations

import email
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from monitors.alerts import (
    SLACK_HEADER_MAX,
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_MAX,
    AlertContent,
    SeedRef,
    SourceLink,
    alert_subject,
    example_alert,
    render_email,
    render_html,
    render_slack,
    render_text,
    slack_escape,
    thread_root_id,
)
from monitors.delivery import render_digest
from monitors.records import TopicHit

CREATED = datetime(2024, 9, 12, 8, 30, 5, 123456, tzinfo=UTC)
EVIDENCE = (
    "Kim Jong Un arrived in Vladivostok on Tuesday for a summit with Vladimir Putin, "
    "state media said."
)


def sample(**overrides: object) -> AlertContent:
    """A realistic new-development alert."""
    values: dict[str, object] = dict(
        monitor="nk-russia",
        kind="new_development",
        headline="Kim and Putin meet in Vladivostok",
        summary="North Korean leader Kim Jong Un met Russian President Vladimir Putin.",
        development_id=42,
        topics=[TopicHit("summits", ("summit", "Vladivostok"), (EVIDENCE,))],
        sources=[
            SourceLink(
                "Kim arrives in Vladivostok for Putin summit",
                "https://news.example.com/world/kim-putin?id=1&ref=rss",
                "Example News",
                datetime(2024, 9, 12, 7, 55, tzinfo=UTC),
            ),
            SourceLink("Putin hosts Kim", "https://wire.example.org/a/2", "Example Wire", None),
        ],
        nearest_seed=SeedRef("seed-2023-09-13", "Kim and Putin meet at Vostochny", 61.5),
        run_url="http://127.0.0.1:4200/runs/flow-run/6a1c",
        created_at=CREATED,
    )
    values.update(overrides)
    return AlertContent(**values)  # type: ignore[arg-type]


def all_mrkdwn(payload: dict) -> str:
    """Every mrkdwn/plain text of a Slack payload, joined."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        for el in block.get("elements", []):
            texts.append(el["text"])
    return "\n".join(texts)


def check_block_kit(payload: dict) -> None:
    """Structural validity against the Block Kit rules this renderer relies on."""
    assert isinstance(payload["text"], str) and payload["text"]
    blocks = payload["blocks"]
    assert 1 <= len(blocks) <= SLACK_MAX_BLOCKS
    assert blocks[0]["type"] == "header"
    for block in blocks:
        assert block["type"] in {"header", "section", "context", "divider"}
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= SLACK_HEADER_MAX
        elif block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn"
            assert 1 <= len(block["text"]["text"]) <= SLACK_SECTION_MAX
        elif block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            for el in block["elements"]:
                assert el["type"] == "mrkdwn" and 1 <= len(el["text"]) <= 3000
    json.dumps(payload)  # serialisable


# --- payload ---------------------------------------------------------------------------------
def test_payload_round_trip_is_exact_to_the_second_and_json_safe():
    content = sample()
    content.items = [sample(kind="update", headline="Follow-up", development_id=43)]
    payload = json.loads(json.dumps(content.to_payload()))
    back = AlertContent.from_payload(payload)
    content.created_at = content.created_at.replace(microsecond=0)
    for item in content.items:
        item.created_at = item.created_at.replace(microsecond=0)
    assert back == content
    assert back.created_at.tzinfo is not None
    assert isinstance(back.topics[0].terms, tuple)
    assert back.sources[0].published == datetime(2024, 9, 12, 7, 55, tzinfo=UTC)
    # the one timestamp format of every newsmon output: ISO 8601, UTC, seconds
    assert payload["created_at"] == "2024-09-12T08:30:05Z"


def test_payload_round_trip_minimal_and_naive_datetimes():
    content = AlertContent(
        monitor="m",
        kind="feed_health",
        headline="Feed x failing",
        summary="",
        sources=[SourceLink("x", "https://x.example", "X", datetime(2024, 1, 1, 12, 0))],
        created_at=datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=9))),
    )
    back = AlertContent.from_payload(json.loads(json.dumps(content.to_payload())))
    assert back.created_at == content.created_at and back.created_at.utcoffset() == timedelta(0)
    assert back.sources[0].published == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)  # naive = UTC


def test_from_payload_names_the_bad_field():
    payload = sample().to_payload()
    payload["kind"] = "shout"
    with pytest.raises(ValueError, match=r"'kind' must be one of .*got 'shout'"):
        AlertContent.from_payload(payload)
    payload = sample().to_payload()
    del payload["headline"]
    with pytest.raises(ValueError, match="'headline' is missing"):
        AlertContent.from_payload(payload)
    payload = sample().to_payload()
    payload["sources"][1]["published"] = "yesterday"
    with pytest.raises(ValueError, match=r"sources\[1\]\.published.*'yesterday'"):
        AlertContent.from_payload(payload)


def test_subject():
    assert (
        alert_subject(sample())
        == "[newsmon:nk-russia] New development: Kim and Putin meet in Vladivostok (summits)"
    )
    s = alert_subject(sample(kind="update", headline="Line one\nline two", topics=[]))
    assert s == "[newsmon:nk-russia] Update: Line one line two"
    assert len(alert_subject(sample(headline="x" * 1000))) < 250


# --- Slack -----------------------------------------------------------------------------------
def test_slack_structure_and_content():
    payload = render_slack(sample())
    check_block_kit(payload)
    blocks = payload["blocks"]
    assert blocks[0]["text"]["text"] == "Kim and Putin meet in Vladivostok"
    assert blocks[1]["type"] == "context"
    context = blocks[1]["elements"][0]["text"]
    assert "*nk-russia*" in context and "New development" in context
    assert "Example News, Example Wire" in context
    text = all_mrkdwn(payload)
    # evidence quoted, matched terms in bold
    assert "> Kim Jong Un arrived in *Vladivostok* on Tuesday for a *summit* with" in text
    assert "topic summits" in text
    # nearest seed with similarity
    assert "Kim and Putin meet at Vostochny (seed-2023-09-13), similarity 62%" in text
    # every source linked, "&" escaped inside the URL
    assert (
        "<https://news.example.com/world/kim-putin?id=1&amp;ref=rss|Example News — "
        "Kim arrives in Vladivostok for Putin summit>" in text
    )
    assert "<https://wire.example.org/a/2|Example Wire — Putin hosts Kim>" in text
    assert blocks[-1]["elements"][0]["text"] == (
        "<http://127.0.0.1:4200/runs/flow-run/6a1c|View run in Prefect>"
    )
    # the notification text comes from the slack.txt.j2 template: no "[newsmon:...]" prefix
    assert payload["text"] == (
        "New development: Kim and Putin meet in Vladivostok (summits) — Example News, Example Wire"
    )


def test_slack_without_optional_parts():
    payload = render_slack(sample(nearest_seed=None, run_url=None, topics=[], sources=[]))
    check_block_kit(payload)
    text = all_mrkdwn(payload)
    assert "seed" not in text and "Prefect" not in text and "Sources" not in text


def test_slack_escapes_user_text():
    hostile = "<!channel> Tom & Jerry <http://evil.example|click>"
    payload = render_slack(
        sample(
            headline=hostile,
            summary=hostile,
            topics=[TopicHit("a<b", ("Jerry",), ("Reporters wrote: " + hostile,))],
            sources=[SourceLink(hostile, "javascript:alert(1)", "O|ut<let>", None)],
        )
    )
    check_block_kit(payload)
    text = all_mrkdwn(payload)
    assert "<!channel>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt; Tom &amp; *Jerry* &lt;http://evil.example|click&gt;" in text
    assert "javascript:" not in text  # not a link, and the URL is not shown
    assert "O¦ut&lt;let&gt;" in text
    # Slack decodes the three entities in plain_text too, so the header is escaped as well
    assert payload["blocks"][0]["text"]["text"] == slack_escape(hostile)
    assert slack_escape("a&b<c>") == "a&amp;b&lt;c&gt;"


def test_slack_truncates_long_text_with_ellipsis():
    long_amp = "&" * 5000
    payload = render_slack(
        sample(
            headline="H" * 400,
            summary=long_amp,
            topics=[TopicHit("t", ("x",), ("x " * 3000,) * 5)],
        )
    )
    check_block_kit(payload)
    header = payload["blocks"][0]["text"]["text"]
    assert len(header) == SLACK_HEADER_MAX and header.endswith("…")
    summary = payload["blocks"][2]["text"]["text"]
    assert summary.endswith("…")
    assert re.fullmatch(r"(&amp;)+…", summary), "an entity was cut in half"


def test_slack_respects_block_limit_with_many_sources_and_topics():
    topics = [TopicHit(f"topic{i}", ("x",), ("x marks it",)) for i in range(80)]
    sources = [
        SourceLink(f"Title {i} " + "w" * 200, f"https://e.example/{i}", f"Outlet {i}", None)
        for i in range(300)
    ]
    payload = render_slack(sample(topics=topics, sources=sources))
    check_block_kit(payload)
    assert len(payload["blocks"]) == SLACK_MAX_BLOCKS
    assert "more blocks not shown" in payload["blocks"][-2]["elements"][0]["text"]
    assert "View run in Prefect" in payload["blocks"][-1]["elements"][0]["text"]


def test_slack_many_sources_are_packed_into_sections_without_splitting_links():
    sources = [SourceLink(f"T{i}", f"https://e.example/{i}", "O", None) for i in range(200)]
    payload = render_slack(sample(sources=sources, topics=[]))
    check_block_kit(payload)
    text = all_mrkdwn(payload)
    for i in range(200):
        assert f"<https://e.example/{i}|O — T{i}>" in text


# --- digest ----------------------------------------------------------------------------------
def test_digest_renders_every_item_in_all_formats():
    items = [
        sample(headline=f"Development {i}", development_id=i, run_url=None) for i in range(1, 4)
    ]
    items.append(sample(kind="update", headline="Follow-up <b>", development_id=1))
    digest = render_digest(items, monitor="nk-russia", period="quiet hours 22:00-07:00")
    assert digest.kind == "digest" and len(digest.items) == 4
    assert digest.headline == "4 developments — quiet hours 22:00-07:00"
    assert alert_subject(digest).startswith("[newsmon:nk-russia] Digest: 4 developments")

    payload = render_slack(digest)
    check_block_kit(payload)
    text = all_mrkdwn(payload)
    for i in range(1, 4):
        assert (
            f"<https://news.example.com/world/kim-putin?id=1&amp;ref=rss|Development {i}>" in text
        )
    assert (
        "Update: *<https://news.example.com/world/kim-putin?id=1&amp;ref=rss|Follow-up &lt;b&gt;>*"
        in text
    )
    assert "_summits_" in text

    plain = render_text(digest)
    assert "  1. Development 1 [summits]" in plain
    assert "  4. Update: Follow-up <b> [summits]" in plain
    assert "Example Wire: https://wire.example.org/a/2" in plain

    page = render_html(digest)
    assert "Follow-up &lt;b&gt;" in page and "Follow-up <b>" not in page
    assert page.count("<li>") == 4


def test_digest_flattens_nested_digests_and_survives_a_flood():
    inner = render_digest([sample(), sample()], monitor="m", period="p")
    many = [sample(headline=f"Dev {i} " + "z" * 250) for i in range(500)]
    digest = render_digest([inner, *many], monitor="m", period="last hour")
    assert len(digest.items) == 502
    payload = render_slack(digest)
    check_block_kit(payload)
    assert json.loads(json.dumps(digest.to_payload()))["items"][0]["kind"] == "new_development"


# --- text and HTML ---------------------------------------------------------------------------
def test_text_rendering():
    text = render_text(sample())
    assert text.startswith("[newsmon:nk-russia] New development: Kim and Putin meet in Vladivostok")
    assert "topic summits (matched: summit, Vladivostok)" in text
    assert '"Kim Jong Un arrived in *Vladivostok* on Tuesday for a *summit* with' in text
    assert "Nearest known coverage (seed): Kim and Putin meet at Vostochny" in text
    assert (
        "Example News — Kim arrives in Vladivostok for Putin summit (2024-09-12 07:55 UTC)" in text
    )
    assert "https://news.example.com/world/kim-putin?id=1&ref=rss" in text
    assert "View run in Prefect: http://127.0.0.1:4200/runs/flow-run/6a1c" in text
    assert 'monitor "nk-russia"' in text and "channels:" in text


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_and_links_only_safe_urls():
    hostile = '<script>alert("x")</script> & "quotes"'
    page = render_html(
        sample(
            headline=hostile,
            summary=hostile,
            topics=[TopicHit("<t>", ("alert",), ("They wrote " + hostile,))],
            sources=[
                SourceLink(hostile, "javascript:alert(1)", "<o>", None),
                SourceLink("ok", 'https://e.example/?a=1&b="2"', "E", None),
            ],
        )
    )
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags
    assert parser.hrefs == [
        'https://e.example/?a=1&b="2"',  # attribute decoded by the parser: escaped in source
        "http://127.0.0.1:4200/runs/flow-run/6a1c",
    ]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;" in page
    assert "<strong>alert</strong>" in page  # matched term highlighted inside the evidence
    assert "javascript:" not in page


def test_html_contains_why_and_sources():
    page = render_html(sample())
    parser = _Collector()
    parser.feed(page)
    visible = "".join(parser.text)
    assert "Why it fired" in visible
    assert "Kim Jong Un arrived in Vladivostok on Tuesday for a summit" in visible
    assert "<strong>Vladivostok</strong>" in page
    assert "https://news.example.com/world/kim-putin?id=1&ref=rss" in parser.hrefs
    assert "similarity 62%" in visible
    assert 'newsmon monitor "nk-russia"' in visible


# --- email -----------------------------------------------------------------------------------
def parse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_email_structure_and_headers():
    msg = parse(
        render_email(
            sample(),
            sender="Newsmon <alerts@example.com>",
            to=["a@example.com", "b@example.com"],
            thread_key="nk-russia:dev:42",
        )
    )
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    plain = parts[0].get_content()
    page = parts[1].get_content()
    assert "Why it fired" in plain and "<h3" in page
    assert msg["Subject"] == alert_subject(sample())
    assert msg["To"] == "a@example.com, b@example.com"
    assert msg["List-Id"] == "newsmon monitor nk-russia <nk-russia.newsmon.local>"
    assert msg["List-Unsubscribe"].startswith("<mailto:alerts@example.com?subject=unsubscribe")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Newsmon-Development"] == "42"
    assert msg["Date"]
    assert "remove your address from channels.email.to" in plain


def test_email_threading_ids():
    def render(kind: str, key: str, message_key: str | None = None) -> EmailMessage:
        return parse(
            render_email(
                sample(kind=kind),
                sender="alerts@example.com",
                to=["a@example.com"],
                thread_key=key,
                domain="mail.example.com",
                message_key=message_key,
            )
        )

    root = thread_root_id("dev:42", domain="mail.example.com")
    assert re.fullmatch(r"<[0-9a-f]{40}@mail\.example\.com>", root)

    first = render("new_development", "dev:42")
    assert first["Message-ID"] == root
    assert first["In-Reply-To"] is None and first["References"] is None
    assert render("new_development", "dev:42")["Message-ID"] == root  # stable: retries dedupe

    up1, up2 = render("update", "dev:42"), render("update", "dev:42")
    assert up1["In-Reply-To"] == root and up1["References"] == root
    assert up2["In-Reply-To"] == root
    assert len({first["Message-ID"], up1["Message-ID"], up2["Message-ID"]}) == 3

    keyed = [render("update", "dev:42", message_key="alert-7")["Message-ID"] for _ in range(2)]
    assert keyed[0] == keyed[1] != render("update", "dev:42", "alert-8")["Message-ID"]

    other = render("new_development", "dev:43")
    assert other["Message-ID"] != root
    assert render("update", "dev:43")["In-Reply-To"] == other["Message-ID"]


def test_email_header_injection_is_neutralised():
    msg = render_email(
        sample(headline="Hi\r\nBcc: victim@example.com"),
        sender="alerts@example.com",
        to=["a@example.com"],
        thread_key="k",
    )
    parsed = parse(msg)
    assert parsed["Bcc"] is None
    assert "Hi Bcc: victim@example.com" in parsed["Subject"]


def test_email_needs_a_recipient():
    with pytest.raises(ValueError, match="at least one recipient"):
        render_email(sample(), sender="a@example.com", to=[], thread_key="k")


def test_docs_samples_are_current():
    """docs/alerts.md shows what the code renders; regenerate: `python -m scripts.alert_samples`."""
    doc = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text(encoding="utf-8")
    sample = example_alert()
    assert json.dumps(render_slack(sample), indent=2, ensure_ascii=False) in doc
    assert render_text(sample).rstrip("\n") in doc
    assert render_html(sample).rstrip("\n") in doc


# --- briefing quality ------------------------------------------------------------------------
def test_wildcard_terms_are_bolded_and_shown_as_the_words_they_matched():
    hit = TopicHit(
        "sanctions",
        ("sanction*", "Северн* Коре*"),
        ("The US imposed new sanctions on firms trading with Северной Кореи.",),
    )
    alert = sample(topics=[hit])
    text = render_text(alert)
    assert "(matched: sanctions, Северной Кореи)" in text
    assert '"The US imposed new *sanctions* on firms trading with *Северной Кореи*."' in text
    assert "sanction*" not in text
    mrkdwn = all_mrkdwn(render_slack(alert))
    assert "*Why it fired — topic sanctions*: *sanctions*, *Северной Кореи*" in mrkdwn
    assert "*sanction**" not in mrkdwn
    assert "imposed new <strong>sanctions</strong> on firms" in render_html(alert)


def test_evidence_is_clean_sentences_without_timestamps_or_the_headline_again():
    headline = "Kim and Putin meet in Vladivostok"
    raw = (
        f"{headline} 2023-09-13T04:05:00Z North Korean leader Kim Jong Un met Putin at a "
        "summit in the Far East."
    )
    byline = (
        f"{headline} By WSJ Staff Thu 31 Aug 2023 22.29 UTC The move came after a summit at "
        "Camp David."
    )
    hit = TopicHit("summits", ("summit",), (raw, raw, headline, byline))
    text = render_text(sample(headline=headline, topics=[hit]))
    quoted = [line.strip() for line in text.splitlines() if line.strip().startswith('"')]
    assert quoted == [
        '"North Korean leader Kim Jong Un met Putin at a *summit* in the Far East."',
        '"The move came after a *summit* at Camp David."',
    ]


def test_summary_is_cut_at_a_sentence_or_word_boundary():
    from monitors.alert_text import cut_text

    long = "The leaders held talks for hours. " * 30
    cut = cut_text(long, 100)
    assert cut == "The leaders held talks for hours. The leaders held talks for hours."
    words = "word " * 100 + "held in private"
    cut = cut_text(words, 60)
    assert cut.endswith("word…") and len(cut) <= 60
    text = render_text(sample(summary="Officials say the meeting was held in " + "x" * 600))
    assert "held i…" not in text and "Officials say the meeting was held in…" in text


def test_nearest_seed_only_when_relevant_and_actors_that_put_it_in_scope():
    weak = sample(nearest_seed=SeedRef("s1", "Unrelated seed", 49.0), actors=["north_korea"])
    assert "seed" not in render_text(weak).lower()
    assert "In scope" not in render_text(weak)  # one actor alone does not explain the scope
    strong = sample(
        nearest_seed=SeedRef("s2", "Kim and Putin meet", 82.0), actors=["north_korea", "russia"]
    )
    text = render_text(strong)
    assert "Nearest known coverage (seed): Kim and Putin meet (s2), similarity 82%" in text
    assert "In scope: the article names North Korea and Russia." in text
    assert "In scope: the article names North Korea and Russia" in all_mrkdwn(render_slack(strong))


def test_a_user_template_overrides_the_bundled_one(tmp_path: Path):
    from monitors.alert_templates import TemplateProblem

    (tmp_path / "email.txt.j2").write_text(
        "{{ kind_label }} | {{ headline }} | {{ topics | map(attribute='name') | join('+') }}\n",
        encoding="utf-8",
    )
    (tmp_path / "slack.txt.j2").write_text("ALERT {{ headline }}", encoding="utf-8")
    alert = sample()
    assert render_text(alert, templates_dir=tmp_path) == (
        "New development | Kim and Putin meet in Vladivostok | summits\n"
    )
    assert render_slack(alert, templates_dir=tmp_path)["text"] == (
        "ALERT Kim and Putin meet in Vladivostok"
    )
    # the HTML part is not overridden there: the bundled template is used
    assert render_html(alert, templates_dir=tmp_path) == render_html(alert)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "email.txt.j2").write_text("{{ no_such_field }}", encoding="utf-8")
    with pytest.raises(TemplateProblem) as exc:
        render_text(alert, templates_dir=broken)
    assert str(exc.value) == (
        f"alert template {broken}/email.txt.j2 does not render (UndefinedError: "
        "'no_such_field' is undefined); fix it or remove it to use the bundled one"
    )
