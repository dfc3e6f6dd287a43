"""Slack through slack-sdk: pages as direct messages with Acknowledge and Resolve buttons,
incident events posted to #incidents, and for each new incident its own channel
(``inc-<id>-<slug>``) with the responders invited, a topic and the summary pinned. With
only an incoming webhook URL, everything is posted to that webhook's channel instead."""

from __future__ import annotations

import re
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from warroom.notify.base import Message, PermanentError, Receipt, RetryLater
from warroom.notify.config import SlackConfig
from warroom.notify.render import event_of, page_reason

ACKNOWLEDGE, RESOLVE = "warroom_acknowledge", "warroom_resolve"
RETRYABLE = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
TOLERATED = {"already_in_channel", "already_pinned", "cant_invite_self"}


def channel_name(incident: dict[str, Any]) -> str:
    """``inc-42-checkout-is-down``: what Slack allows (lowercase, digits, dashes; 80 max)."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(incident["title"]).lower()).strip("-")
    return f"inc-{incident['id']}-{slug}"[:80].rstrip("-")


def incident_id_of(name: str) -> int | None:
    """The incident an ``inc-<id>-...`` channel belongs to."""
    found = re.fullmatch(r"inc-(\d{1,12})(?:-.*)?", name or "")
    return int(found.group(1)) if found else None


class SlackChannel:
    def __init__(self, config: SlackConfig) -> None:
        self.name = config.name
        self.config = config
        self.client = (
            WebClient(
                token=config.bot_token.get_secret_value(),
                base_url=config.api_url,
                timeout=int(config.timeout_seconds),
                retry_handlers=[],  # the outbox retries, with its backoff
            )
            if config.bot_token is not None
            else None
        )
        self.hook = (
            WebhookClient(
                config.webhook_url.get_secret_value(), timeout=int(config.timeout_seconds)
            )
            if config.webhook_url is not None and config.bot_token is None
            else None
        )

    def send(self, message: Message) -> Receipt:
        try:
            return self._send(message)
        except SlackApiError as exc:
            raise _failure(exc) from exc

    def _send(self, message: Message) -> Receipt:
        event = event_of(message.body)
        kind = event.get("type", "") if event else ""
        data: dict[str, Any] = event.get("data", {}) if event else {}
        if kind == "incident.page":
            text, blocks = page_message(data)
            return self._post(message.recipient, text, blocks, direct=True)
        if kind == "page.digest":
            return self._post(message.recipient, str(data.get("text", "")), None, direct=True)
        if kind == "incident.message":
            text = f"*{_escape(str(data['subject']))}*\n{_escape(str(data['text']))}"
            return self._post(self.config.incidents_channel, text, [_section(text)], direct=False)
        if kind.startswith("incident.") and "incident" in data:
            text, blocks = event_message(kind, data)
            receipt = self._post(self.config.incidents_channel, text, blocks, direct=False)
            if kind == "incident.triggered" and self.config.incident_channels and self.client:
                opened = self.open_incident_channel(data)
                receipt = Receipt(self.name, f"{receipt.detail}; opened #{opened}")
            return receipt
        return self._post(
            self.config.incidents_channel,
            f"*{message.subject}*\n{message.body}",
            None,
            direct=False,
        )

    def _post(
        self, where: str, text: str, blocks: list[dict[str, Any]] | None, *, direct: bool
    ) -> Receipt:
        if self.client is not None:
            if direct and not re.fullmatch(r"[UW][A-Z0-9]{2,30}", where):
                raise PermanentError(f"{where!r} is not a Slack user id (the person's chat_id)")
            answer = self.client.chat_postMessage(channel=where, text=text, blocks=blocks)
            return Receipt(self.name, f"posted to {answer.get('channel')} ts={answer.get('ts')}")
        assert self.hook is not None
        if direct:  # an incoming webhook cannot send a DM: mention them in its channel
            text = f"<@{where}> {text}"
            blocks = [_section(f"<@{where}>"), *(blocks or [])]
        response = self.hook.send(text=text, blocks=blocks)
        if response.status_code == 429:
            raise RetryLater(
                "slack webhook rate limited", float(response.headers.get("retry-after", 30))
            )
        if response.status_code >= 500:
            raise RuntimeError(f"slack webhook answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise PermanentError(
                f"slack webhook answered HTTP {response.status_code}: {response.body}"
            )
        return Receipt(self.name, "posted through the incoming webhook")

    def open_incident_channel(self, data: dict[str, Any]) -> str:
        """Create (or, on a retry, find) the incident's channel, set its topic, invite the
        responders and pin the summary; returns the channel's name."""
        assert self.client is not None
        incident = data["incident"]
        name = channel_name(incident)
        try:
            channel_id = self.client.conversations_create(name=name)["channel"]["id"]
        except SlackApiError as exc:
            if exc.response.get("error") != "name_taken":
                raise
            channel_id = self._find_channel(name)
        topic = f"[{incident['severity']}] {incident['title']} — {incident['url']}"
        self.client.conversations_setTopic(channel=channel_id, topic=topic[:250])
        users = sorted({r["chat_id"] for r in data.get("roles", []) if r.get("chat_id")})
        if users:
            self._tolerant(
                lambda: self.client.conversations_invite(channel=channel_id, users=",".join(users))
            )
        text, blocks = event_message("incident.triggered", data)
        posted = self.client.chat_postMessage(channel=channel_id, text=text, blocks=blocks)
        self._tolerant(lambda: self.client.pins_add(channel=channel_id, timestamp=posted["ts"]))
        return name

    def _find_channel(self, name: str) -> str:
        assert self.client is not None
        cursor = None
        while True:
            page = self.client.conversations_list(limit=1000, cursor=cursor, exclude_archived=True)
            for channel in page["channels"]:
                if channel["name"] == name:
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise PermanentError(f"slack says #{name} exists but it is not listed")

    @staticmethod
    def _tolerant(call: Any) -> None:
        try:
            call()
        except SlackApiError as exc:
            if exc.response.get("error") not in TOLERATED:
                raise


def page_message(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    incident = data["incident"]
    why = page_reason(data)
    head = f"[{incident['severity']}] {incident['title']}"
    text = f"{why} for incident {incident['id']}: {head}"
    blocks = [
        _section(
            f"*{_escape(head)}*\n{_escape(why)}: incident "
            f"<{incident['url']}|{incident['id']}> is {incident['status']}."
        ),
        _buttons(incident["id"]),
    ]
    return text, blocks


def event_message(kind: str, data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    incident = data["incident"]
    what = kind.removeprefix("incident.")
    head = f"[{incident['severity']}] {incident['title']}"
    text = f"Incident {incident['id']} {what}: {head}"
    lines = [f"*Incident <{incident['url']}|{incident['id']}> {what}*: {_escape(head)}"]
    roles = [f"{r['role_name']}: {_escape(r['person'])}" for r in data.get("roles", [])]
    if roles:
        lines.append("; ".join(roles))
    blocks = [_section("\n".join(lines))]
    if kind == "incident.triggered":
        blocks.append(_buttons(incident["id"]))
    return text, blocks


def _buttons(incident_id: int) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "style": "primary",
                "action_id": ACKNOWLEDGE,
                "value": str(incident_id),
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Resolve"},
                "action_id": RESOLVE,
                "value": str(incident_id),
            },
        ],
    }


def _section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown[:3000]}}


def _escape(text: str) -> str:
    """Slack's three control characters, so user text cannot ping @channel or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _failure(exc: SlackApiError) -> Exception:
    response = exc.response
    error = str(response.get("error", ""))
    if response.status_code == 429 or error == "ratelimited":
        return RetryLater(
            f"slack: {error or 'rate limited'}", float(response.headers.get("Retry-After", 30))
        )
    if response.status_code >= 500 or error in RETRYABLE:
        return RuntimeError(f"slack: {error or response.status_code}")
    return PermanentError(f"slack: {error}")
