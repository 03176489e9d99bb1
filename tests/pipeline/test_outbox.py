"""The alert outbox end to end: outages, retries, dead letters, crashes, overlapping runs,
digests, quiet hours and routing, against a real webhook sink, a real SMTP server and real
databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.alerts import AlertContent, AlertKind, SourceLink
from monitors.config import MonitorConfig, parse_config
from monitors.kinds import AlertKind as Kind
from monitors.records import TopicHit
from pipeline import deliver, outbox
from storage import repo_alerts
from storage.db import get_engine
from storage.models import Development
from tests.support.httpserver import LocalHTTPServer, Request, Response

REPO = Path(__file__).resolve().parents[2]


class Webhook:
    """A Slack-webhook stand-in whose answers are scripted; keeps every request."""

    def __init__(self, server: LocalHTTPServer, path: str = "/hook") -> None:
        self.script: list[Response] = []
        self.default = Response(200, b"ok", content_type="text/plain")
        self.delay = 0.0
        self.received: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server.route(path, self.handle)
        self.url = server.url(path)

    def handle(self, req: Request) -> Response:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            body = json.loads(req.body)
            self.received.append(body)
            resp = self.script.pop(0) if self.script else self.default
            if resp.status == 200:
                self.delivered.append(body)
        return resp

    def headlines(self) -> list[str]:
        """Header text of every message the webhook accepted."""
        out = []
        for body in self.delivered:
            header = next(b for b in body["blocks"] if b["type"] == "header")
            out.append(header["text"]["text"])
        return out


class SmtpSink:
    """SMTP handler with scripted reply codes."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply.startswith("250"):
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return reply


@pytest.fixture
def site() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    sink = SmtpSink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    yield sink, port
    ctl.stop()


def monitor(
    tmp_path: Path,
    db_url: str,
    *,
    slack: dict[str, Any] | None = None,
    email_port: int | None = None,
    email: dict[str, Any] | None = None,
    alerts: dict[str, Any] | None = None,
    outbox: bool = False,
) -> MonitorConfig:
    channels: dict[str, Any] = {"outbox": outbox}
    if slack is not None:
        channels["slack"] = {
            "webhook_url": {"env": "NEWSMON_TEST_HOOK"},
            "min_interval_seconds": 0,
            "timeout_seconds": 3,
            **slack,
        }
    if email_port is not None:
        channels["email"] = {
            "host": "127.0.0.1",
            "port": email_port,
            "tls": "none",
            "from": "newsmon@test.local",
            "to": ["desk@test.local"],
            "timeout_seconds": 5,
            **(email or {}),
        }
    return parse_config(
        {
            "name": "outbox-test",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp_path / "data"),
            "database_url": db_url,
            "feeds": [{"name": "f", "url": "http://127.0.0.1:9/feed"}],
            "channels": channels,
            "alerts": alerts or {},
        }
    )


def owe(
    cfg: MonitorConfig,
    engine: Engine,
    n: int,
    *,
    topic: str = "summits",
    kind: AlertKind = "new_development",
    now: datetime | None = None,
) -> list[str]:
    """Write n developments with their alerts, as process_batch does; returns headlines."""
    now = now or datetime.now(UTC)
    heads = []
    with Session(engine) as s:
        for i in range(n):
            dev = Development(
                monitor=cfg.name,
                title=f"dev {i}",
                first_seen_at=now,
                last_seen_at=now,
                topics=[topic],
            )
            s.add(dev)
            s.flush()
            head = f"Development {dev.id}: Kim and Putin meet ({topic})"
            content = AlertContent(
                monitor=cfg.name,
                kind=kind,
                headline=head,
                summary="Summit held.",
                development_id=dev.id,
                topics=[TopicHit(topic, (topic,), (f"They held a {topic} meeting.",))],
                sources=[SourceLink("Kim meets Putin", "https://example.org/a", "Wire")],
            )
            for ch in outbox.routed_channels(cfg, {topic}):
                outbox.queue_alert(
                    s,
                    monitor=cfg.name,
                    channel=ch,
                    kind=Kind(kind),
                    dedup_key=f"dev:{dev.id}",
                    content=content,
                    now=now,
                    development_id=dev.id,
                    next_attempt_at=outbox.digest_due(outbox.channel_policy(cfg, ch), now),
                )
            heads.append(head)
        s.commit()
    return heads


def statuses(cfg: MonitorConfig, engine: Engine) -> dict[tuple[str, str], str]:
    with Session(engine) as s:
        return {
            (a.channel, a.dedup_key): a.status for a in repo_alerts.list_alerts(s, monitor=cfg.name)
        }


def drain(cfg: MonitorConfig, engine: Engine, start: datetime, passes: int = 12) -> datetime:
    """Run delivery passes, each two hours later, until nothing is pending."""
    now = start
    for _ in range(passes):
        deliver.deliver_pending(cfg, engine, now=now)
        if all(v in ("sent", "dead") for v in statuses(cfg, engine).values()):
            return now
        now += timedelta(hours=2)
    return now


def test_outage_then_recovery_delivers_every_alert_exactly_once(
    tmp_path: Path,
    site: LocalHTTPServer,
    smtp: tuple[SmtpSink, int],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, port = smtp
    hook = Webhook(site)
    # connection refused first: the webhook points at a closed port
    monkeypatch.setenv("NEWSMON_TEST_HOOK", "http://127.0.0.1:9/hook")
    cfg = monitor(tmp_path, db_url, slack={}, email_port=port)
    engine = get_engine(db_url)
    heads = owe(cfg, engine, 3)
    t0 = datetime.now(UTC)
    sink.replies = ["451 4.3.0 try again later"]
    first = deliver.deliver_pending(cfg, engine, now=t0)
    assert (first.sent, first.retrying, first.dead) == (2, 4, 0)
    assert any("127.0.0.1:9" in m for m in first.messages)
    # the webhook comes back but answers 500, then 429 with Retry-After, then 200
    monkeypatch.setenv("NEWSMON_TEST_HOOK", hook.url)
    hook.script = [Response(500, b"oops"), Response(429, b"rate", {"Retry-After": "1"})]
    second = deliver.deliver_pending(cfg, engine, now=t0 + timedelta(hours=2))
    assert second.retrying == 3 and any("429" in m for m in second.messages)
    time.sleep(1.1)  # the sender holds back for Retry-After in real time, too
    drain(cfg, engine, t0 + timedelta(hours=4))
    with Session(engine) as s:
        problems = [
            (a.channel, a.status, a.last_error)
            for a in repo_alerts.list_alerts(s, monitor=cfg.name)
            if a.status != "sent"
        ]
    assert problems == []
    assert sorted(hook.headlines()) == sorted(heads)
    subjects = [str(m["Subject"]) for m in sink.messages]
    assert len(subjects) == 3
    assert all(sum(h in subj for subj in subjects) == 1 for h in heads)
    with Session(engine) as s:
        tries = {
            a.channel: a.attempts
            for a in repo_alerts.list_alerts(s, monitor=cfg.name)
            if a.dedup_key.endswith(heads[0].split(":")[0].split()[-1])
        }
    assert tries["slack"] >= 2


def test_429_retry_after_is_honoured(
    tmp_path: Path, site: LocalHTTPServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = Webhook(site)
    monkeypatch.setenv("NEWSMON_TEST_HOOK", hook.url)
    hook.script = [Response(429, b"rate_limited", {"Retry-After": "600"})]
    cfg = monitor(tmp_path, db_url, slack={})
    engine = get_engine(db_url)
    owe(cfg, engine, 1)
    now = datetime.now(UTC)
    report = deliver.deliver_pending(cfg, engine, now=now)
    assert report.retrying == 1
    with Session(engine) as s:
        (alert,) = repo_alerts.list_alerts(s, monitor=cfg.name)
    assert alert.status == "pending"
    assert alert.next_attempt_at is not None and alert.next_attempt_at >= now + timedelta(
        seconds=600
    )
    # not due before Retry-After has passed: no request is made
    assert deliver.deliver_pending(cfg, engine, now=now + timedelta(seconds=300)).retrying == 0
    assert len(hook.received) == 1


def test_permanent_failure_is_dead_lettered_visible_and_resendable(
    tmp_path: Path,
    site: LocalHTTPServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flows.cli import main

    hook = Webhook(site)
    monkeypatch.setenv("NEWSMON_TEST_HOOK", hook.url)
    hook.script = [Response(404, b"no_service")]
    cfg = monitor(tmp_path, sqlite_url, slack={})
    engine = get_engine(sqlite_url)
    owe(cfg, engine, 1)
    report = deliver.deliver_pending(cfg, engine)
    assert report.dead == 1
    assert "dead-lettered" in report.messages[0] and "404" in report.messages[0]
    path = tmp_path / "m.yaml"
    import yaml

    data = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["alerts", "--status", "dead", "--monitor", str(path)]) == 0
    listing = capsys.readouterr().out
    assert "slack    new_development  dead" in listing and "404" in listing
    assert main(["alerts", "retry", "--monitor", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "requeued 1 dead alert(s)",
        "delivered 1, retrying 0, dead 0",
    ]
    assert len(hook.delivered) == 1


def test_overlapping_deliveries_send_each_alert_once(
    tmp_path: Path, site: LocalHTTPServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = Webhook(site)
    hook.delay = 0.05
    monkeypatch.setenv("NEWSMON_TEST_HOOK", hook.url)
    cfg = monitor(tmp_path, db_url, slack={})
    engine = get_engine(db_url)
    heads = owe(cfg, engine, 8)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            deliver.deliver_pending(cfg, engine)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(hook.headlines()) == sorted(heads)  # each exactly once


CRASHING_DELIVERY = textwrap.dedent(
    """
    import sys
    from pipeline import deliver
    from monitors.config import load_config
    from storage.db import get_engine
    cfg = load_config(sys.argv[1])
    deliver.deliver_pending(cfg, get_engine(cfg.resolved_database_url))
    """
)


def test_run_killed_mid_delivery_is_finished_by_the_next_with_at_most_one_duplicate(
    tmp_path: Path, site: LocalHTTPServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    hook = Webhook(site)
    hook.delay = 0.4
    monkeypatch.setenv("NEWSMON_TEST_HOOK", hook.url)
    cfg = monitor(tmp_path, db_url, slack={})
    engine = get_engine(db_url)
    heads = owe(cfg, engine, 6)
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", by_alias=True, exclude_none=True)))
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_DELIVERY, str(path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 60
    while len(hook.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert 3 <= len(hook.received) < 6, "the process should die in the middle of delivery"
    # before the lease expires the next run leaves the claimed alerts alone...
    hook.delay = 0
    deliver.deliver_pending(cfg, engine, now=datetime.now(UTC))
    # ...after it, the claims are stale and everything owed goes out
    deliver.deliver_pending(cfg, engine, now=datetime.now(UTC) + deliver.DELIVERY_LEASE * 2)
    assert set(statuses(cfg, engine).values()) == {"sent"}
    got = hook.headlines()
    assert set(got) == set(heads)
    assert len(got) - len(set(got)) <= 1


def test_flood_guard_turns_many_alerts_into_one_digest(
    tmp_path: Path, site: LocalHTTPServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = Webhook(site)
    monkeypatch.setenv("NEWSMON_TEST_HOOK", hook.url)
    cfg = monitor(tmp_path, sqlite_url, slack={}, alerts={"flood_limit": 3})
    engine = get_engine(sqlite_url)
    heads = owe(cfg, engine, 5)
    report = deliver.deliver_pending(cfg, engine)
    assert (report.sent, report.digests) == (5, 1)
    assert len(hook.delivered) == 1
    text = json.dumps(hook.delivered[0], ensure_ascii=False)
    assert "5 developments" in text and all(h in text for h in heads)


def test_digest_mode_waits_for_the_period_then_sends_one_email(
    tmp_path: Path, smtp: tuple[SmtpSink, int], sqlite_url: str
) -> None:
    sink, port = smtp
    cfg = monitor(
        tmp_path, sqlite_url, email_port=port, email={"mode": "digest", "digest_every_hours": 24}
    )
    engine = get_engine(sqlite_url)
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    owe(cfg, engine, 3, now=now)
    assert deliver.deliver_pending(cfg, engine, now=now + timedelta(hours=1)).sent == 0
    report = deliver.deliver_pending(cfg, engine, now=datetime(2026, 11, 23, 0, 1, tzinfo=UTC))
    assert (report.sent, report.digests) == (3, 1)
    assert len(sink.messages) == 1
    assert "3 developments" in str(sink.messages[0]["Subject"])


def test_quiet_hours_hold_news_but_not_feed_health(
    tmp_path: Path, site: LocalHTTPServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = Webhook(site)
    monkeypatch.setenv("NEWSMON_TEST_HOOK", hook.url)
    cfg = monitor(
        tmp_path, sqlite_url, slack={"quiet_hours": "22:00-07:00", "timezone": "Asia/Seoul"}
    )
    engine = get_engine(sqlite_url)
    night = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 00:00 in Seoul
    owe(cfg, engine, 1, now=night)
    owe(cfg, engine, 1, kind="feed_health", now=night)
    report = deliver.deliver_pending(cfg, engine, now=night)
    assert (report.sent, report.deferred) == (1, 1)
    assert "quiet hours until 2026-11-22 22:00 UTC" in report.messages[0]
    morning = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)  # 07:00 in Seoul
    assert deliver.deliver_pending(cfg, engine, now=morning).sent == 1
    assert len(hook.delivered) == 2


def test_routing_sends_each_topic_to_its_channels(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSMON_TEST_HOOK", "http://127.0.0.1:9/x")
    cfg = monitor(
        tmp_path,
        sqlite_url,
        slack={"topics": ["summits"]},
        email_port=25,
        email={"topics": ["sanctions"]},
        outbox=True,
    )
    assert outbox.routed_channels(cfg, {"summits"}) == ["slack", "outbox"]
    assert outbox.routed_channels(cfg, {"sanctions"}) == ["email", "outbox"]
    assert outbox.routed_channels(cfg, {"sanctions", "summits"}) == ["slack", "email", "outbox"]
    assert outbox.routed_channels(cfg, {"flights"}) == ["outbox"]
