"""Channel settings: secrets from a secrets file or the environment; `channel test` for
Slack and SMS; a receiver that hangs is a timeout, tried again later."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Cli
from tests.fake_api import serve
from tests.receivers import SECRET, drain
from tests.slack_fake import BOT_TOKEN, FakeSlack
from tests.twilio_fake import OURS, SID, TOKEN, FakeTwilio
from warroom.clock import FakeClock
from warroom.errors import ChannelsError
from warroom.incidents import service
from warroom.incidents.schemas import IncidentCreate
from warroom.notify.config import load_channels
from warroom.notify.models import Delivery
from warroom.runtime import build_runtime
from warroom.settings import Settings


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_secrets_come_from_the_secrets_file_before_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets.env").write_text(f"HOOK_SECRET={SECRET}\nSLACK_TOKEN=xoxb-from-file\n")
    monkeypatch.setenv("SLACK_TOKEN", "xoxb-from-environment")
    monkeypatch.setenv("SMTP_PASSWORD", "from-environment")
    config = load_channels(
        write(
            tmp_path / "channels.json",
            {
                "secrets_file": "secrets.env",
                "webhooks": [
                    {"name": "a", "url": "http://127.0.0.1:9/", "secret_env": "HOOK_SECRET"}
                ],
                "slack": [{"bot_token_env": "SLACK_TOKEN"}],
                "email": [
                    {
                        "name": "m",
                        "host": "127.0.0.1",
                        "sender": "w@example.com",
                        "username": "w",
                        "password_env": "SMTP_PASSWORD",
                    }
                ],
            },
        )
    )
    assert config.webhooks[0].secret is not None
    assert config.webhooks[0].secret.get_secret_value() == SECRET
    assert config.slack[0].bot_token is not None
    assert config.slack[0].bot_token.get_secret_value() == "xoxb-from-file"
    assert config.email[0].password is not None
    assert config.email[0].password.get_secret_value() == "from-environment"


def test_a_missing_secrets_file_or_secret_is_named(tmp_path: Path) -> None:
    for data, said in (
        ({"secrets_file": "nope.env"}, "secrets_file: cannot read"),
        (
            {"teams": [{"url_env": "WARROOM_TEST_NO_TEAMS_URL"}]},
            "WARROOM_TEST_NO_TEAMS_URL is not set",
        ),
    ):
        with pytest.raises(ChannelsError) as caught:
            load_channels(write(tmp_path / "channels.json", data))
        assert said in str(caught.value.details["problems"])


def test_channel_test_posts_to_slack_and_texts_a_number(
    cli: Cli, fake_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    twilio = FakeTwilio()
    server = serve(twilio, lambda port: f"http://127.0.0.1:{port}")
    try:
        channels = {
            "slack": [{"bot_token": BOT_TOKEN, "api_url": fake_slack.url}],
            "twilio": {
                "account_sid": SID,
                "auth_token": TOKEN,
                "from_number": OURS,
                "api_url": twilio.url,
            },
        }
        monkeypatch.setenv("WARROOM_CHANNELS_FILE", str(write(tmp_path / "c.json", channels)))
        listed = cli("channel", "list").out
        assert "slack" in listed
        assert "sms" in listed
        slack = cli("channel", "test", "slack")
        assert slack.code == 0, slack.err
        assert fake_slack.called("chat.postMessage")[0]["channel"] == "#incidents"
        no_number = cli("channel", "test", "sms")
        assert no_number.code != 0
        assert "--to" in no_number.err
        sms = cli("channel", "test", "sms", "--to", "+4915112345678")
        assert sms.code == 0, sms.err
        assert sms.out.startswith("sms: sent (twilio sms SM")
        assert twilio.called("Messages")[0]["To"] == "+4915112345678"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hanging() -> Iterator[str]:
    """A receiver that accepts the request and answers only after 3 s."""

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            time.sleep(3)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_a_receiver_that_hangs_is_a_timeout_and_is_tried_again(
    settings: Settings, clock: FakeClock, hanging: str, tmp_path: Path
) -> None:
    hook = {"name": "slow", "url": hanging, "secret": SECRET, "timeout_seconds": 0.5}
    channels = write(tmp_path / "channels.json", {"webhooks": [hook]})
    runtime = build_runtime(settings.model_copy(update={"channels_file": channels}), clock=clock)
    runtime.prepare_database()
    with runtime.transaction() as session:
        service.declare(
            session=session,
            playbook=runtime.playbook,
            data=IncidentCreate(title="Slow receiver", severity="P3"),
            actor="test",
            clock=clock,
        )
    drain(runtime)
    with runtime.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert "timed out" in (delivery.last_error or "").lower()
    runtime.engine.dispose()
