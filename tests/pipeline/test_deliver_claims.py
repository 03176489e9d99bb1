"""Delivery claims one channel at a time: while one channel's send hangs, the other channels'
alerts stay unclaimed (a crash then holds back only the alert in flight)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from monitors.config import MonitorConfig, parse_config
from pipeline.deliver import notify_run_failure
from storage.db import get_engine
from tests.support.httpserver import LocalHTTPServer, Response

REPO = Path(__file__).resolve().parents[2]


class HeldSmtp:
    """An SMTP handler that holds the first message until released."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrived.set()
        self.release.wait(
            60
        )  # blocks the SMTP server's loop: the client waits, as for a slow relay
        return "250 OK"


@pytest.fixture
def held_smtp() -> Iterator[tuple[HeldSmtp, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    handler = HeldSmtp()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    yield handler, port
    handler.release.set()
    ctl.stop()


def config(tmp_path: Path, db_url: str, smtp_port: int) -> MonitorConfig:
    return parse_config(
        {
            "name": "claims",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp_path / "data"),
            "database_url": db_url,
            "feeds": [{"name": "f", "url": "http://127.0.0.1:9/feed"}],
            "channels": {
                "outbox": True,
                "slack": {"webhook_url": {"env": "NEWSMON_TEST_HOOK"}, "min_interval_seconds": 0},
                "email": {
                    "host": "127.0.0.1",
                    "port": smtp_port,
                    "tls": "none",
                    "from": "newsmon@test.local",
                    "to": ["desk@test.local"],
                    "timeout_seconds": 30,
                },
            },
        }
    )


def statuses(db_url: str) -> dict[str, str]:
    with get_engine(db_url).connect() as conn:
        rows = conn.execute(text("SELECT channel, status FROM alert WHERE monitor = 'claims'"))
        return {str(c): str(s) for c, s in rows}


def test_other_channels_stay_unclaimed_while_one_is_sending(
    tmp_path: Path,
    db_url: str,
    held_smtp: tuple[HeldSmtp, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, port = held_smtp
    with LocalHTTPServer() as site:
        site.route("/hook", Response(200, b"ok", content_type="text/plain"))
        monkeypatch.setenv("NEWSMON_TEST_HOOK", site.url("/hook"))
        cfg = config(tmp_path, db_url, port)
        engine = get_engine(db_url)
        worker = threading.Thread(
            target=notify_run_failure,
            args=(cfg, engine),
            kwargs={"run_key": "r1", "message": "test"},
        )
        worker.start()
        try:
            assert handler.arrived.wait(60), "the email was never sent"
            time.sleep(0.5)
            # email (first in order) is in flight; outbox and slack are not claimed yet
            assert statuses(db_url) == {
                "email": "sending",
                "outbox": "pending",
                "slack": "pending",
            }
        finally:
            handler.release.set()
            worker.join(60)
        assert statuses(db_url) == {"email": "sent", "outbox": "sent", "slack": "sent"}
