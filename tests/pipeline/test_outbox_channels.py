"""The apprise and generic-webhook channels through the same outbox (retries, dead letters,
quiet hours, digests), against real local HTTP receivers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from monitors.config import MonitorConfig, parse_config
from pipeline import deliver
from storage import repo_alerts
from storage.db import get_engine
from tests.pipeline.test_outbox import REPO, owe, statuses
from tests.support.httpserver import LocalHTTPServer, Request, Response

SECRET = "s3cret-signing-key"


class SigningReceiver:
    """A webhook receiver that checks the HMAC signature, the timestamp and the idempotency key.

    It processes each idempotency key once (a repeat is acknowledged, not processed again) and
    answers 401 to a bad signature, as a careful receiver does. `script` scripts failures.
    """

    def __init__(self, server: LocalHTTPServer, secret: str) -> None:
        self.secret = secret.encode()
        self.script: list[int] = []
        self.processed: dict[str, dict[str, Any]] = {}
        self.keys_seen: list[str] = []
        self.repeats = 0
        self.lock = threading.Lock()
        server.route("/in", self.handle)
        self.url = server.url("/in")

    def handle(self, req: Request) -> Response:
        headers = {k.lower(): v for k, v in req.headers.items()}
        stamp = headers.get("x-newsmon-timestamp", "")
        expected = (
            "sha256="
            + hmac.new(self.secret, stamp.encode() + b"." + req.body, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, headers.get("x-newsmon-signature", "")):
            return Response(401, b"bad signature", content_type="text/plain")
        if abs(time.time() - int(stamp)) > 300:
            return Response(401, b"stale timestamp", content_type="text/plain")
        key = headers["idempotency-key"]
        with self.lock:
            self.keys_seen.append(key)
            if self.script:
                return Response(self.script.pop(0), b"busy", content_type="text/plain")
            if key in self.processed:
                self.repeats += 1
            else:
                self.processed[key] = json.loads(req.body)
        return Response(200, b"ok", content_type="text/plain")


class AppriseJsonReceiver:
    """What an Apprise `json://` URL posts to: {"title", "message", "type", ...}."""

    def __init__(self, server: LocalHTTPServer) -> None:
        self.script: list[int] = []
        self.messages: list[dict[str, Any]] = []
        server.route("/notify", self.handle)
        self.port = server.port

    def handle(self, req: Request) -> Response:
        if self.script:
            return Response(self.script.pop(0), b"no", content_type="text/plain")
        self.messages.append(json.loads(req.body))
        return Response(200, b"{}", content_type="application/json")


@pytest.fixture
def site() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as server:
        yield server


def monitor(tmp_path: Path, db_url: str, channels: dict[str, Any], **alerts: Any) -> MonitorConfig:
    return parse_config(
        {
            "name": "channels-test",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp_path / "data"),
            "database_url": db_url,
            "feeds": [{"name": "f", "url": "http://127.0.0.1:9/feed"}],
            "channels": {"outbox": False, **channels},
            "alerts": alerts,
        }
    )


def test_webhook_is_signed_retried_with_the_same_idempotency_key_and_processed_once(
    tmp_path: Path, site: LocalHTTPServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSMON_WEBHOOK_SECRET", SECRET)
    receiver = SigningReceiver(site, SECRET)
    cfg = monitor(tmp_path, sqlite_url, {"webhook": {"url": receiver.url}})
    engine = get_engine(sqlite_url)
    heads = owe(cfg, engine, 2)
    receiver.script = [503]  # the first request fails: that alert retries later
    now = datetime.now(UTC)
    first = deliver.deliver_pending(cfg, engine, now=now)
    assert (first.sent, first.retrying) == (1, 1)
    second = deliver.deliver_pending(cfg, engine, now=now + timedelta(hours=2))
    assert second.sent == 1
    assert set(statuses(cfg, engine).values()) == {"sent"}
    # the failed alert was retried with its own key; every key was processed exactly once
    assert len(receiver.keys_seen) == 3 and len(set(receiver.keys_seen)) == 2
    assert receiver.keys_seen[0] == receiver.keys_seen[2]
    assert receiver.repeats == 0
    bodies = sorted(receiver.processed.values(), key=lambda b: b["alert"]["headline"])
    assert [b["alert"]["headline"] for b in bodies] == sorted(heads)
    assert {b["id"] for b in bodies} == set(receiver.processed)
    assert all(b["kind"] == "new_development" and b["monitor"] == cfg.name for b in bodies)
    assert all(b["text"].startswith(b["subject"]) for b in bodies)


def test_webhook_with_the_wrong_secret_is_dead_lettered_with_a_remedy(
    tmp_path: Path, site: LocalHTTPServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSMON_WEBHOOK_SECRET", "not-the-receivers-secret")
    receiver = SigningReceiver(site, SECRET)
    cfg = monitor(tmp_path, sqlite_url, {"webhook": {"url": receiver.url}})
    engine = get_engine(sqlite_url)
    owe(cfg, engine, 1)
    report = deliver.deliver_pending(cfg, engine)
    assert report.dead == 1 and receiver.processed == {}
    with Session(engine) as s:
        (alert,) = repo_alerts.list_alerts(s, monitor=cfg.name)
    assert alert.status == "dead"
    assert alert.last_error == (
        f"webhook http://127.0.0.1:{site.port}/… answered 401 Unauthorized "
        "(body: 'bad signature'): the receiver rejected the signature: check that it uses "
        "the same secret"
    )


def test_apprise_url_receives_the_alert_after_a_failure(
    tmp_path: Path, site: LocalHTTPServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = AppriseJsonReceiver(site)
    monkeypatch.setenv("NEWSMON_APPRISE_URL", f"json://127.0.0.1:{receiver.port}/notify")
    cfg = monitor(tmp_path, sqlite_url, {"apprise": {"format": "text"}})
    engine = get_engine(sqlite_url)
    (head,) = owe(cfg, engine, 1)
    receiver.script = [500]
    now = datetime.now(UTC)
    first = deliver.deliver_pending(cfg, engine, now=now)
    assert first.retrying == 1
    assert "Apprise json:// notification failed" in first.messages[0]
    assert f"{receiver.port}/notify" not in first.messages[0]  # the URL (a secret) is not shown
    assert deliver.deliver_pending(cfg, engine, now=now + timedelta(hours=2)).sent == 1
    (msg,) = receiver.messages
    assert msg["title"] == f"[newsmon:channels-test] New development: {head} (summits)"
    assert head in msg["message"] and "They held a **summits** meeting." not in msg["message"]
    assert "They held a *summits* meeting." in msg["message"]


def test_apprise_honours_quiet_hours_and_sends_a_flood_as_one_digest(
    tmp_path: Path, site: LocalHTTPServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = AppriseJsonReceiver(site)
    monkeypatch.setenv("NEWSMON_APPRISE_URL", f"json://127.0.0.1:{receiver.port}/notify")
    cfg = monitor(
        tmp_path,
        sqlite_url,
        {"apprise": {"quiet_hours": "22:00-07:00", "timezone": "UTC"}},
        flood_limit=2,
    )
    engine = get_engine(sqlite_url)
    night = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    owe(cfg, engine, 3, now=night)
    held = deliver.deliver_pending(cfg, engine, now=night)
    assert (held.sent, held.deferred) == (0, 3) and receiver.messages == []
    morning = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    report = deliver.deliver_pending(cfg, engine, now=morning)
    assert (report.sent, report.digests) == (3, 1)
    (digest,) = receiver.messages
    assert digest["title"].startswith("[newsmon:channels-test] Digest: 3 developments")


def test_an_apprise_url_written_into_the_file_is_refused() -> None:
    from monitors.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        parse_config(
            {
                "name": "m",
                "feeds": [{"name": "f", "url": "http://127.0.0.1:9/feed"}],
                "channels": {"apprise": {"url": "tgram://bottoken/chat"}},
            },
            source="m.yaml",
        )
    assert str(exc.value) == (
        "m.yaml: invalid monitor configuration\n"
        "  - channels.apprise.url: secrets are not read from files; write "
        "`url: {env: VARIABLE}` or `url: {prefect_secret: BLOCK}`"
    )
