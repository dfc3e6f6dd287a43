"""Microsoft Teams through a channel's Workflows ("post to a channel when a webhook request
is received") or incoming webhook URL: each message is an Adaptive Card with the incident,
why it is sent, and buttons to open the incident or acknowledge a page."""

from __future__ import annotations

from typing import Any

import httpx

from warroom.notify.base import Message, Receipt
from warroom.notify.config import TeamsConfig
from warroom.notify.render import event_of, for_people
from warroom.notify.webhook import answered

CARD = "application/vnd.microsoft.card.adaptive"


def card(message: Message) -> dict[str, Any]:
    """The message as a Teams message holding one Adaptive Card."""
    rendered = for_people(message)
    event = event_of(message.body)
    data: dict[str, Any] = (event or {}).get("data") or {}
    incident = data.get("incident")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": rendered.subject,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    if event is not None and event.get("type") == "incident.page":
        body.append({"type": "TextBlock", "text": f"For {data['person']['name']}", "wrap": True})
    if incident is not None:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Incident", "value": str(incident["id"])},
                    {"title": "Severity", "value": str(incident["severity"])},
                    {"title": "Status", "value": str(incident["status"])},
                ],
            }
        )
    text = data.get("text") if event is not None and "text" in data else None
    if text or event is None:
        body.append({"type": "TextBlock", "text": str(text or message.body), "wrap": True})
    actions = []
    if data.get("acknowledge_link"):
        actions.append(
            {"type": "Action.OpenUrl", "title": "Acknowledge", "url": data["acknowledge_link"]}
        )
    if incident is not None:
        actions.append({"type": "Action.OpenUrl", "title": "Open incident", "url": incident["url"]})
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    }
    return {"type": "message", "attachments": [{"contentType": CARD, "content": content}]}


class TeamsChannel:
    def __init__(self, config: TeamsConfig) -> None:
        assert config.url is not None
        self.name = config.name
        self._url = config.url.get_secret_value()
        self._client = httpx.Client(timeout=config.timeout_seconds)

    def send(self, message: Message) -> Receipt:
        response = self._client.post(self._url, json=card(message))
        retry = response.headers.get("retry-after", "")
        return answered(response.status_code, retry, response.text, self.name, "teams")
