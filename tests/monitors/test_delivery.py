"""Delivery channels against real local servers: Slack webhook (HTTP), SMTP (aiosmtpd), files."""

from __future__ import annotations

import datetime as dt
import email
import email.utils
import ipaddress
import itertools
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from monitors import delivery
from monitors.alerts import AlertContent, render_email, render_slack, render_text
from monitors.delivery import (
    FileOutbox,
    SlackSender,
    SmtpSender,
    in_quiet_hours,
)
from monitors.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitors.records import TopicHit
from tests.support.httpserver import LocalHTTPServer, Request, Response

SECRET = "/services/T0001/B0002/sEcReTtOkEn"


def content(**overrides: Any) -> AlertContent:
    values: dict[str, Any] = dict(
        monitor="nk-russia",
        kind="new_development",
        headline="Kim and Putin meet in Vladivostok",
        summary="Summit in Vladivostok.",
        development_id=42,
        topics=[TopicHit("summits", ("summit",), ("They held a summit.",))],
        created_at=dt.datetime(2024, 9, 12, 8, 30, 5, tzinfo=dt.UTC),
    )
    values.update(overrides)
    return AlertContent(**values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_redacted(exc: DeliveryError, server: LocalHTTPServer) -> None:
    text = str(exc)
    assert "sEcReTtOkEn" not in text and "T0001" not in text
    assert f"127.0.0.1:{server.port}" in text
    assert exc.channel == "slack"


# --- quiet hours -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        ("21:59", False),
        ("22:00", True),
        ("23:30", True),
        ("00:00", True),
        ("06:59", True),
        ("07:00", False),
        ("12:00", False),
    ],
)
def test_quiet_hours_across_midnight(clock: str, expected: bool):
    now = dt.datetime.fromisoformat(f"2024-09-12T{clock}:00+09:00")
    assert in_quiet_hours(now, start=dt.time(22, 0), end=dt.time(7, 0)) is expected


def test_quiet_hours_same_day_and_disabled():
    day = dt.datetime(2024, 9, 12, 12, 0)
    assert in_quiet_hours(day, start=dt.time(9), end=dt.time(17))
    assert not in_quiet_hours(day.replace(hour=17), start=dt.time(9), end=dt.time(17))
    assert not in_quiet_hours(day.replace(hour=8), start=dt.time(9), end=dt.time(17))
    assert not in_quiet_hours(day, start=None, end=dt.time(17))
    assert not in_quiet_hours(day, start=dt.time(12), end=dt.time(12))


# --- Slack -----------------------------------------------------------------------------------
@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        yield srv


def test_slack_200_posts_the_json_payload(server: LocalHTTPServer):
    server.route(SECRET, Response(200, b"ok", content_type="text/plain"))
    payload = render_slack(content())
    SlackSender(server.url(SECRET), min_interval=0).send(payload)
    (req,) = server.requests_to(SECRET)
    assert req.method == "POST"
    assert req.headers["Content-Type"].startswith("application/json")
    assert json.loads(req.body) == payload


def test_slack_429_is_transient_with_retry_after_and_fails_fast_until_then(
    server: LocalHTTPServer,
):
    server.route(SECRET, Response(429, b"rate_limited", headers={"Retry-After": "30"}))
    sender = SlackSender(server.url(SECRET), min_interval=0)
    with pytest.raises(TransientDeliveryError) as info:
        sender.send({"text": "x"})
    assert info.value.retry_after == 30
    assert "429" in str(info.value) and "rate_limited" in str(info.value)
    assert_redacted(info.value, server)
    # Slack asked for 30 s: a second send (even from another sender) does not hit the server
    with pytest.raises(TransientDeliveryError) as again:
        SlackSender(server.url(SECRET), min_interval=0).send({"text": "y"})
    assert again.value.retry_after is not None and 28 < again.value.retry_after <= 30
    assert len(server.requests_to(SECRET)) == 1


def test_slack_5xx_is_transient(server: LocalHTTPServer):
    server.route(SECRET, Response(503, b"<html>upstream down</html>"))
    with pytest.raises(TransientDeliveryError) as info:
        SlackSender(server.url(SECRET), min_interval=0).send({"text": "x"})
    assert "503" in str(info.value) and "upstream down" in str(info.value)
    assert info.value.retry_after is None
    assert_redacted(info.value, server)


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (400, b"invalid_payload", "newsmon bug"),
        (403, b"action_prohibited", "admin"),
        (404, b"no_service", "create a new incoming webhook"),
        (410, b"channel_is_archived", "archived"),
    ],
)
def test_slack_4xx_is_permanent_and_explained(
    server: LocalHTTPServer, status: int, body: bytes, hint: str
):
    server.route(SECRET, Response(status, body, content_type="text/plain"))
    with pytest.raises(PermanentDeliveryError) as info:
        SlackSender(server.url(SECRET), min_interval=0).send({"text": "x"})
    text = str(info.value)
    assert str(status) in text and body.decode() in text and hint in text
    assert not info.value.transient
    assert_redacted(info.value, server)


def test_slack_body_echoing_the_secret_path_is_redacted(server: LocalHTTPServer):
    server.route(
        SECRET, Response(404, f"no such hook {SECRET}".encode(), content_type="text/plain")
    )
    with pytest.raises(PermanentDeliveryError) as info:
        SlackSender(server.url(SECRET), min_interval=0).send({"text": "x"})
    assert_redacted(info.value, server)


def test_slack_connection_refused_is_transient():
    port = free_port()
    with pytest.raises(TransientDeliveryError) as info:
        SlackSender(f"http://127.0.0.1:{port}{SECRET}", min_interval=0).send({"text": "x"})
    assert f"127.0.0.1:{port}" in str(info.value) and "sEcReT" not in str(info.value)
    assert "could not be reached" in str(info.value)


def test_slack_timeout_is_transient(server: LocalHTTPServer):
    def slow(req: Request) -> Response:
        time.sleep(1.5)
        return Response(200, b"ok")

    server.route(SECRET, slow)
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError, match=r"timed out after 0\.3s"):
        SlackSender(server.url(SECRET), min_interval=0, timeout=0.3).send({"text": "x"})
    assert time.monotonic() - started < 1.4


def test_slack_rejects_a_non_http_webhook_url():
    with pytest.raises(PermanentDeliveryError, match="must be an https:// URL"):
        SlackSender("ftp://hooks.example.com/services/x")


def _timed(server: LocalHTTPServer, path: str, times: list[float], delay: float = 0.0) -> None:
    def handler(req: Request) -> Response:
        times.append(time.monotonic())
        if delay:
            time.sleep(delay)
        return Response(200, b"ok")

    server.route(path, handler)


def test_slack_rate_limit_spaces_messages_to_one_webhook(server: LocalHTTPServer):
    times: list[float] = []
    _timed(server, SECRET, times)
    url = server.url(SECRET)
    # two senders of one webhook in two threads, plus a sequential one: process-wide limit
    threads = [
        threading.Thread(target=SlackSender(url, min_interval=0.4).send, args=({"text": str(i)},))
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    SlackSender(url, min_interval=0.4).send({"text": "3"})
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 0.4 for g in gaps), gaps


def test_slack_rate_limit_does_not_serialise_different_webhooks(server: LocalHTTPServer):
    slow_times: list[float] = []
    fast_times: list[float] = []
    _timed(server, "/hook/slow", slow_times, delay=1.5)
    _timed(server, "/hook/fast", fast_times)
    slow = SlackSender(server.url("/hook/slow"), min_interval=2.0)
    fast = SlackSender(server.url("/hook/fast"), min_interval=2.0)
    fast.send({"text": "prime"})  # the fast webhook's 2 s interval starts now
    worker = threading.Thread(target=slow.send, args=({"text": "slow"},))
    other = SlackSender(server.url("/hook/other"), min_interval=2.0)
    server.route("/hook/other", Response(200, b"ok"))
    worker.start()
    deadline = time.monotonic() + 5
    while not slow_times and time.monotonic() < deadline:  # the slow post is now in flight
        time.sleep(0.01)
    started = time.monotonic()
    other.send({"text": "other"})  # neither the slow post nor the fast interval delays it
    assert time.monotonic() - started < 1.0
    assert worker.is_alive()  # the slow webhook's post had not finished meanwhile
    worker.join()
    assert len(slow_times) == 1 and len(fast_times) == 1


# --- SMTP ------------------------------------------------------------------------------------
class Sink:
    """aiosmtpd handler: records messages; answers RCPT/DATA with configurable replies."""

    def __init__(self, data_reply: str = "250 OK", refuse: dict[str, str] | None = None) -> None:
        self.data_reply = data_reply
        self.refuse = refuse or {}
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            msg = email.message_from_bytes(raw, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            self.messages.append((envelope, msg))
        return self.data_reply


def smtp_server(handler: Sink, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


def email_message(to: list[str] | None = None) -> EmailMessage:
    return render_email(
        content(),
        sender="newsmon@example.com",
        to=to or ["ops@example.com", "desk@example.com"],
        thread_key="nk-russia:dev:42",
    )


def plain_sender(port: int, **kwargs: Any) -> SmtpSender:
    values: dict[str, Any] = dict(
        host="127.0.0.1", port=port, tls="none", username=None, password=None, timeout=5
    )
    values.update(kwargs)
    return SmtpSender(**values)


def test_smtp_delivers_both_parts():
    sink = Sink()
    controller = smtp_server(sink)
    try:
        plain_sender(controller.port).send(email_message())
    finally:
        controller.stop()
    (envelope, msg) = sink.messages[0]
    assert len(sink.messages) == 1
    assert envelope.mail_from == "newsmon@example.com"
    assert sorted(envelope.rcpt_tos) == ["desk@example.com", "ops@example.com"]
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"].startswith("[newsmon:nk-russia] New development:")
    assert "Why it fired" in next(iter(msg.iter_parts())).get_content()


@pytest.mark.parametrize(
    ("sink", "error", "text"),
    [
        (Sink("451 4.3.0 Try again later"), TransientDeliveryError, "451 4.3.0 Try again later"),
        (Sink("554 5.7.1 Message rejected as spam"), PermanentDeliveryError, "554 5.7.1"),
        (
            Sink(refuse={"ops@example.com": "550 5.1.1 No such user", "desk@example.com": "550 x"}),
            PermanentDeliveryError,
            "550 5.1.1 No such user",
        ),
        (
            Sink(refuse={"ops@example.com": "450 4.2.0 Mailbox busy", "desk@example.com": "451 x"}),
            TransientDeliveryError,
            "450 4.2.0 Mailbox busy",
        ),
    ],
)
def test_smtp_reply_codes_are_classified(sink: Sink, error: type[DeliveryError], text: str):
    controller = smtp_server(sink)
    try:
        with pytest.raises(DeliveryError) as info:
            plain_sender(controller.port).send(email_message())
    finally:
        controller.stop()
    assert type(info.value) is error
    assert text in str(info.value)
    assert f"127.0.0.1:{controller.port}" in str(info.value)
    assert info.value.channel == "email"
    assert sink.messages == []


def test_smtp_partial_refusal_is_permanent_and_says_who_got_it():
    sink = Sink(refuse={"desk@example.com": "550 5.1.1 No such user"})
    controller = smtp_server(sink)
    try:
        with pytest.raises(PermanentDeliveryError) as info:
            plain_sender(controller.port).send(email_message())
    finally:
        controller.stop()
    assert len(sink.messages) == 1  # ops@ got it
    assert "refused some recipients" in str(info.value)
    assert "desk@example.com: 550 5.1.1 No such user" in str(info.value)


def test_smtp_connection_refused_is_transient():
    port = free_port()
    with pytest.raises(TransientDeliveryError, match=f"127.0.0.1:{port} refused the connection"):
        plain_sender(port).send(email_message())


def test_smtp_timeout_and_disconnect_are_transient():
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(TransientDeliveryError, match=r"timed out after 0\.3s during connect"):
            plain_sender(port, timeout=0.3).send(email_message())

    with socket.socket() as rude:  # accepts and hangs up at once
        rude.bind(("127.0.0.1", 0))
        rude.listen(1)
        port = rude.getsockname()[1]

        def hang_up() -> None:
            conn, _ = rude.accept()
            conn.close()

        t = threading.Thread(target=hang_up)
        t.start()
        with pytest.raises(TransientDeliveryError, match="closed the connection"):
            plain_sender(port).send(email_message())
        t.join()


# --- SMTP with STARTTLS and AUTH -------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _authenticator(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"newsmon",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_smtp(certificate: tuple[Path, Path]) -> Iterator[tuple[Controller, Sink]]:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*certificate)
    sink = Sink()
    controller = smtp_server(
        sink,
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=_authenticator,
        auth_require_tls=True,
    )
    try:
        yield controller, sink
    finally:
        controller.stop()


def test_smtp_starttls_and_auth(tls_smtp: tuple[Controller, Sink], certificate: tuple[Path, Path]):
    controller, sink = tls_smtp
    client_ctx = ssl.create_default_context(cafile=str(certificate[0]))
    sender = plain_sender(
        controller.port,
        tls="starttls",
        username="newsmon",
        password="s3cret",
        ssl_context=client_ctx,
    )
    sender.send(email_message())
    assert len(sink.messages) == 1

    wrong = plain_sender(
        controller.port, tls="starttls", username="newsmon", password="nope", ssl_context=client_ctx
    )
    with pytest.raises(PermanentDeliveryError, match=r"535.*check the username 'newsmon'"):
        wrong.send(email_message())
    assert len(sink.messages) == 1


def test_smtp_untrusted_certificate_is_permanent(tls_smtp: tuple[Controller, Sink]):
    controller, sink = tls_smtp
    sender = plain_sender(controller.port, tls="starttls", username="newsmon", password="s3cret")
    with pytest.raises(PermanentDeliveryError, match="certificate that is not trusted"):
        sender.send(email_message())
    assert sink.messages == []


def test_smtp_starttls_unsupported_is_permanent():
    controller = smtp_server(Sink())  # no tls_context: STARTTLS not offered
    try:
        with pytest.raises(PermanentDeliveryError, match=r"does not support STARTTLS.*tls: ssl"):
            plain_sender(controller.port, tls="starttls").send(email_message())
    finally:
        controller.stop()


# --- file outbox -----------------------------------------------------------------------------
def test_outbox_writes_text_and_payload(tmp_path: Path):
    box = FileOutbox(tmp_path / "outbox")
    alert = content()
    path = box.send(alert, key="new_development-dev:42")
    assert path.parent == tmp_path / "outbox"
    assert path.name.startswith("20240912T083005-new_development-dev_42-")
    assert path.suffix == ".txt"
    assert path.read_text(encoding="utf-8") == render_text(alert)
    stored = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert AlertContent.from_payload(stored) == alert
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [path.name, path.with_suffix(".json").name]
    )


def test_outbox_is_idempotent_per_key(tmp_path: Path):
    box = FileOutbox(tmp_path)
    first = box.send(content(), key="dev-42")
    assert first.name == "20240912T083005-dev-42.txt"
    later = content(
        headline="Re-rendered", created_at=dt.datetime(2024, 9, 13, 1, 0, tzinfo=dt.UTC)
    )
    again = box.send(later, key="dev-42")
    assert again == first
    assert "Re-rendered" in first.read_text(encoding="utf-8")
    assert len(list(tmp_path.iterdir())) == 2
    # a key that merely ends like another one is a different alert
    other = box.send(content(), key="x-dev-42")
    assert other != first and len(list(tmp_path.iterdir())) == 4


def test_outbox_keys_cannot_escape_the_directory(tmp_path: Path):
    box = FileOutbox(tmp_path / "box")
    path = box.send(content(), key="../../etc/passwd")
    assert path.parent == tmp_path / "box"
    assert "/" not in path.name and ".." not in path.name
    assert box.send(content(), key="a/b") != box.send(content(), key="a_b")


def test_outbox_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    box = FileOutbox(tmp_path)
    path = box.send(content(headline="Original"), key="k")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def crash(src: str, dst: str) -> None:  # fault injection: the rename fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(delivery.os, "replace", crash)
    with pytest.raises(TransientDeliveryError, match="No space left on device"):
        box.send(content(headline="Replacement"), key="k")
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # old files intact, no temporary file left behind
    assert "Original" in path.read_text(encoding="utf-8")


def test_outbox_unusable_directory_is_permanent(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(PermanentDeliveryError, match=f"file outbox {blocker}"):
        FileOutbox(blocker).send(content(), key="k")


def test_smtp_implicit_tls(certificate: tuple[Path, Path]):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*certificate)
    sink = Sink()
    controller = smtp_server(sink, ssl_context=server_ctx)
    try:
        client_ctx = ssl.create_default_context(cafile=str(certificate[0]))
        plain_sender(controller.port, tls="ssl", ssl_context=client_ctx).send(email_message())
        # the same server spoken to without TLS: the handshake fails, a configuration problem
        with pytest.raises(TransientDeliveryError, match=r"timed out .* set tls: ssl"):
            plain_sender(controller.port, tls="none", timeout=1).send(email_message())
    finally:
        controller.stop()
    assert len(sink.messages) == 1


def test_slack_retry_after_as_http_date(server: LocalHTTPServer):
    when = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120))
    server.route(SECRET, Response(429, b"", headers={"Retry-After": when}))
    with pytest.raises(TransientDeliveryError) as info:
        SlackSender(server.url(SECRET), min_interval=0).send({"text": "x"})
    assert info.value.retry_after is not None and 100 < info.value.retry_after <= 120
