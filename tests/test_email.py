"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1: pages as text and
HTML with the acknowledgement link, one thread per incident, STARTTLS with login, 5xx
failing at once and 4xx retried."""

from __future__ import annotations

import email
import json
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message as Mail
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.apps import app_with
from tests.conftest import Cli
from tests.procs import free_port
from tests.receivers import drain
from warroom.clock import FakeClock
from warroom.errors import ChannelsError
from warroom.notify.base import Message
from warroom.notify.config import load_channels
from warroom.notify.models import Delivery
from warroom.runtime import Runtime, build_runtime
from warroom.settings import Settings

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
POLICY = {
    "name": "devops",
    "levels": [
        {"targets": [{"person": "ana@example.com"}], "timeout": "5m"},
        {"targets": [{"person": "ben"}], "timeout": "5m"},
    ],
}


@dataclass
class Mailbox:
    """What the SMTP server received, and answers to give (by recipient)."""

    mails: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.mails.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = (data.login, data.password) == (b"warroom", b"s3cret")
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


def parts(mail: Mail) -> dict[str, str]:
    found = {}
    for part in mail.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_subtype()] = payload.decode()
    return found


def start_smtp(mailbox: Mailbox, **options: Any) -> Controller:
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=free_port(), authenticator=mailbox.authenticate,
        **options,
    )  # fmt: skip
    controller.start()
    return controller


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = start_smtp(box, auth_require_tls=False)
    yield box, controller.port
    controller.stop()


def email_channels(tmp_path: Path, port: int, **extra: Any) -> Path:
    config = {
        "name": "ops-mail",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "warroom <warroom@example.com>",
        **extra,
    }
    path = tmp_path / "channels.json"
    path.write_text(json.dumps({"email": [config]}))
    return path


class Paging:
    def __init__(self, runtime: Runtime, client: TestClient, token: str, clock: FakeClock):
        self.runtime, self.client, self.clock = runtime, client, clock
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.headers, json=body)

    def run(self, seconds: float = 0) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        drain(self.runtime)

    def deliveries(self) -> list[Delivery]:
        with self.runtime.read() as session:
            found = session.scalars(select(Delivery).where(Delivery.channel == "ops-mail"))
            return list(found)


@pytest.fixture
def paging(
    settings: Settings, clock: FakeClock, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> Iterator[Paging]:
    clock.set(START)
    channels = email_channels(tmp_path, mailbox[1])
    with app_with(settings, clock, channels, base_url="https://wr.test") as (
        runtime,
        client,
        token,
    ):
        setup = Paging(runtime, client, token, clock)
        ana = {"name": "Ana", "email": "ana@example.com", "notification_rules": ["ops-mail"]}
        assert setup.call("POST", "/people", ana).status_code == 201
        assert setup.call("POST", "/people", {"name": "Ben"}).status_code == 201  # no email
        assert setup.call("POST", "/escalation-policies", POLICY).status_code == 201
        yield setup


def declare(paging: Paging, title: str = "Checkout <down>") -> int:
    body = {"title": title, "severity": "P1", "escalation_policy": "devops"}
    response = paging.call("POST", "/incidents", body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_a_page_arrives_as_text_and_html_with_the_acknowledgement_link(
    paging: Paging, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    incident = declare(paging)
    paging.run()
    [mail] = box.mails
    assert mail["To"] == "ana@example.com"
    assert mail["From"] == "warroom <warroom@example.com>"
    assert mail["Subject"].startswith("[P1] Checkout <down>: you are paged")
    body = parts(mail)
    assert set(body) == {"plain", "html"}
    assert "Acknowledge: https://wr.test/ack/" in body["plain"]
    assert '<a href="https://wr.test/ack/' in body["html"]
    assert "Checkout &lt;down&gt;" in body["html"]  # escaped, not markup
    assert "<down>" not in body["html"]
    assert mail["Message-ID"].endswith("@example.com>")
    assert mail["In-Reply-To"] == f"<warroom-incident-{incident}@example.com>"


def test_every_mail_of_an_incident_is_in_one_thread(
    paging: Paging, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    ana = paging.call("GET", "/people").json()[0]
    rules = {"rules": ["ops-mail", "ops-mail@1m"]}
    assert paging.call("PUT", f"/people/{ana['id']}/notification-rules", rules).status_code == 200
    first, second = declare(paging), declare(paging, "Search down")
    paging.run()
    paging.run(60)
    threads: dict[str, set[str]] = {}
    for mail in box.mails:
        threads.setdefault(mail["References"], set()).add(mail["Message-ID"])
    assert {k: len(v) for k, v in threads.items()} == {
        f"<warroom-incident-{first}@example.com>": 2,
        f"<warroom-incident-{second}@example.com>": 2,
    }


def test_people_without_an_email_address_are_not_mailed_by_default(
    paging: Paging, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    declare(paging)
    paging.run()
    paging.run(300)  # level 2: Ben, no rules, no email: console only
    assert [m["To"] for m in box.mails] == ["ana@example.com"]
    ben = paging.call("GET", "/people").json()[1]
    assert paging.call("PUT", f"/people/{ben['id']}/notification-rules", {"rules": ["ops-mail"]})
    declare(paging, "Search down")
    paging.run()
    paging.run(300)
    failed = [d for d in paging.deliveries() if d.status == "failed"]
    assert len(failed) == 1
    assert failed[0].attempts == 1
    assert "has no email address" in (failed[0].last_error or "")


def test_a_refused_recipient_fails_at_once_and_a_busy_server_is_tried_again(
    paging: Paging, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.refuse["ana@example.com"] = "550 5.1.1 no such mailbox"
    incident = declare(paging)
    paging.run()
    [delivery] = paging.deliveries()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "550" in (delivery.last_error or "")
    kinds = [e["kind"] for e in paging.call("GET", f"/incidents/{incident}/timeline").json()]
    assert "notification_failed" in kinds

    box.refuse["ana@example.com"] = "451 4.3.0 try again later"
    declare(paging, "Search down")
    paging.run()
    retried = paging.deliveries()[-1]
    assert (retried.status, retried.attempts) == ("queued", 1)
    del box.refuse["ana@example.com"]
    paging.run(60)
    assert paging.deliveries()[-1].status == "sent"
    assert [m["Subject"][:16] for m in box.mails] == ["[P1] Search down"]


def test_starttls_and_login(tmp_path: Path, clock: FakeClock, settings: Settings) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox()
    controller = start_smtp(box, tls_context=context, require_starttls=True)
    try:
        extra = {"security": "starttls", "ca_file": str(cert), "username": "warroom"}
        channels = email_channels(tmp_path, controller.port, password="s3cret", **extra)
        runtime = build_runtime(settings.model_copy(update={"channels_file": channels}))
        receipt = runtime.channels["ops-mail"].send(
            Message(recipient="ana@example.com", subject="hello", body="plain text reminder")
        )
        assert "accepted" in receipt.detail
        assert box.logins == ["warroom"]
        assert parts(box.mails[0])["plain"].startswith("plain text reminder")

    finally:
        controller.stop()


def test_bad_email_settings_are_named(tmp_path: Path) -> None:
    for extra, said in (
        ({"username": "warroom"}, "username needs password"),
        ({"sender": "warroom"}, "sender: not an email address"),
        ({"security": "ssl"}, "email[0].security"),
        ({"password_env": "WARROOM_TEST_UNSET_VARIABLE"}, "is not set"),
    ):
        path = email_channels(tmp_path, 25, **extra)
        with pytest.raises(ChannelsError) as caught:
            load_channels(path)
        assert said in str(caught.value.details["problems"]), caught.value.details


def test_channel_list_and_test_for_email(
    cli: Cli, mailbox: tuple[Mailbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = mailbox
    monkeypatch.setenv("WARROOM_CHANNELS_FILE", str(email_channels(tmp_path, port)))
    listed = cli("channel", "list")
    assert "ops-mail" in listed.out
    assert "email" in listed.out
    missing = cli("channel", "test", "ops-mail")
    assert missing.code != 0
    assert "--to" in missing.err
    sent = cli("channel", "test", "ops-mail", "--to", "cy@example.com")
    assert sent.code == 0, sent.err
    assert "ops-mail: sent (accepted by 127.0.0.1)" in sent.out
    assert [m["To"] for m in box.mails] == ["cy@example.com"]
