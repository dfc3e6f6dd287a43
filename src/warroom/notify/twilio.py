"""SMS and voice calls through Twilio (the ``twilio`` library). An SMS page fits one
160-character message and says how to answer ("reply ACK 42"); a call reads the page and
takes "press 1 to acknowledge". The answers come back to ``/twilio/sms`` and
``/twilio/voice/{incident}`` (see ``web/twilio.py``)."""

from __future__ import annotations

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from warroom.inputs import E164
from warroom.notify.base import Message, PermanentError, Receipt, RetryLater
from warroom.notify.config import TwilioConfig
from warroom.notify.render import event_of

SMS_LIMIT = 160


def sms_text(message: Message) -> str:
    """The message in at most 160 characters: the incident, why, and how to answer."""
    event = event_of(message.body)
    if event is None or "incident" not in event.get("data", {}):
        text = f"warroom: {message.subject}"
        if event is not None and event.get("type") == "page.digest":
            text = f"warroom: {event['data'].get('text', message.subject)}"
        return _fit(text, "")
    incident = event["data"]["incident"]
    if event.get("type") == "incident.message":
        data = event["data"]
        return _fit(f"{data['subject']}: {data['text']}".replace("\n", " "), "")
    head = f"warroom #{incident['id']} [{incident['severity']}] "
    tail = f" - reply ACK {incident['id']} to acknowledge"
    return _fit(head + str(incident["title"]), tail)


def speech(message: Message) -> str:
    event = event_of(message.body)
    if event is None or "incident" not in event.get("data", {}):
        return f"This is warroom. {message.subject}."
    incident = event["data"]["incident"]
    if event.get("type") == "incident.message":
        return f"This is warroom. {event['data']['subject']}. {event['data']['text']}"
    severity = " ".join(str(incident["severity"]))  # "P 1" is read out letter by letter
    return (
        f"This is warroom. Incident {incident['id']}, severity {severity}: "
        f"{incident['title']}. Press 1 to acknowledge."
    )


class TwilioChannel:
    """One of the two channels of a Twilio account: ``sms`` or ``voice``."""

    def __init__(self, config: TwilioConfig, kind: str, name: str, base_url: str) -> None:
        assert config.auth_token is not None
        self.name, self.kind, self.config, self.base_url = name, kind, config, base_url
        self.client = Client(
            config.account_sid,
            config.auth_token.get_secret_value(),
            http_client=TwilioHttpClient(timeout=config.timeout_seconds),
        )
        self.client.api.base_url = config.api_url

    def send(self, message: Message) -> Receipt:
        if not E164.match(message.recipient):
            raise PermanentError(f"{message.recipient!r} is not a phone number (E.164)")
        try:
            if self.kind == "sms":
                sent = self.client.messages.create(
                    to=message.recipient, from_=self.config.from_number, body=sms_text(message)
                )
            else:
                sent = self.client.calls.create(
                    to=message.recipient,
                    from_=self.config.from_number,
                    twiml=str(self.call_script(message)),
                )
        except TwilioRestException as exc:
            raise _failure(exc) from exc
        return Receipt(channel=self.name, detail=f"twilio {self.kind} {sent.sid}")

    def call_script(self, message: Message) -> VoiceResponse:
        """Read the page; a key press goes to /twilio/voice/{incident}."""
        event = event_of(message.body) or {}
        incident = (event.get("data") or {}).get("incident")
        script = VoiceResponse()
        if incident is None:
            script.say(speech(message))
            return script
        gather = script.gather(
            num_digits=1, action=f"{self.base_url}/twilio/voice/{incident['id']}", method="POST"
        )
        gather.say(speech(message))
        script.say("No key was pressed. Goodbye.")
        return script


def _fit(text: str, tail: str) -> str:
    room = SMS_LIMIT - len(tail)
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return text + tail


def _failure(exc: TwilioRestException) -> Exception:
    detail = f"twilio {exc.status} {exc.code or ''} {exc.msg}".strip()
    if exc.status == 429:
        return RetryLater(detail, 30.0)
    if exc.status >= 500:
        return RuntimeError(detail)
    return PermanentError(detail)
