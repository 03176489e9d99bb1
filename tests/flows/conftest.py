"""Flow-test fixtures: the Prefect test harness, a real SMTP server, a Slack-webhook sink."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from prefect.testing.utilities import prefect_test_harness

from tests.support.httpserver import LocalHTTPServer, Request, Response


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server and database for the whole flow-test session."""
    with prefect_test_harness(server_startup_timeout=90):
        yield


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpSink:
    """Messages received by the real SMTP server."""

    port: int
    messages: list[Message] = field(default_factory=list)
    reply: str = "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply.startswith("250"):
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return self.reply


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    sink = SmtpSink(port=free_port())
    ctl = Controller(sink, hostname="127.0.0.1", port=sink.port)
    ctl.start()
    try:
        yield sink
    finally:
        ctl.stop()


@pytest.fixture
def site() -> Iterator[LocalHTTPServer]:
    """A real local HTTP server for feeds, pages and the Slack webhook."""
    with LocalHTTPServer() as server:
        yield server


def slack_sink(server: LocalHTTPServer, path: str = "/slack/hook") -> list[Request]:
    """Route a Slack-webhook stand-in answering `ok`; returns the list it records into."""
    received: list[Request] = []

    def handler(req: Request) -> Response:
        received.append(req)
        return Response(200, b"ok", content_type="text/plain")

    server.route(path, handler)
    return received
