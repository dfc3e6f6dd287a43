"""Outbound webhooks, signed the Standard Webhooks way (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``), so receivers can verify them with any
Standard Webhooks library."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from standardwebhooks import Webhook

from warroom.notify.base import Message, PermanentError, Receipt, RetryLater
from warroom.notify.config import WebhookConfig

MAX_RETRY_AFTER = 3600.0


def retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), at most an hour."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


def answered(response: httpx.Response, channel: str, who: str) -> Receipt:
    """A receipt for a 2xx; for 408, 429 and 5xx an error the outbox retries (no sooner
    than a Retry-After asks); for any other answer a permanent failure."""
    detail = f"HTTP {response.status_code}"
    if response.is_success:
        return Receipt(channel=channel, detail=detail)
    if response.status_code in (408, 429) or response.status_code >= 500:
        wait = retry_after(response.headers.get("retry-after", ""))
        if wait is not None:
            raise RetryLater(f"{who} answered {detail}, retry after {wait:.0f} s", wait)
        raise RuntimeError(f"{who} answered {detail}")
    raise PermanentError(f"{who} answered {detail}: {response.text[:200]}")


class WebhookChannel:
    """POSTs the message body (JSON) to one URL. 2xx is sent; 408, 429 and 5xx are retried
    by the outbox (no sooner than a Retry-After header asks); any other answer is a
    permanent failure."""

    def __init__(self, config: WebhookConfig) -> None:
        assert config.secret is not None
        self.name = config.name
        self.url = config.url
        self._signer = Webhook(config.secret.get_secret_value())
        self._client = httpx.Client(timeout=config.timeout_seconds)

    def send(self, message: Message) -> Receipt:
        sent_at = datetime.fromtimestamp(int(time.time()), tz=UTC)
        signature = self._signer.sign(msg_id=message.key, timestamp=sent_at, data=message.body)
        response = self._client.post(
            self.url,
            content=message.body.encode(),
            headers={
                "content-type": "application/json",
                "user-agent": "warroom",
                "webhook-id": message.key,
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": signature,
            },
        )
        return answered(response, self.name, self.url)
