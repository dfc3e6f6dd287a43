"""People as the API and CLI read and write them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warroom.inputs import Email, Input, Phone, check_zone
from warroom.playbook.duration import format_duration, parse_duration

CHANNEL_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
MAX_RULE_DELAY = 3600


class NotificationRule(Input):
    """One way of reaching a person when paged: a channel, some time after the page."""

    channel: str = Field(pattern=CHANNEL_NAME, description="A configured channel's name.")
    after_seconds: int = Field(
        default=0, ge=0, le=MAX_RULE_DELAY, description="Delay after the page; 0 = at once."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``"sms"`` or ``"sms@2m"`` (files and the CLI) stand for the mapping."""
        if not isinstance(value, str):
            return value
        channel, _, after = value.strip().partition("@")
        return {
            "channel": channel,
            "after_seconds": int(parse_duration(after or "0").total_seconds()),
        }

    def shorthand(self) -> str:
        if not self.after_seconds:
            return self.channel
        return f"{self.channel}@{format_duration(timedelta(seconds=self.after_seconds))}"


class PersonCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    email: Email = Field(default=None, max_length=320)
    phone: Phone = Field(default=None, description="E.164, e.g. +4930123456")
    chat_id: str | None = Field(default=None, max_length=100)
    timezone: str = "UTC"
    notification_rules: list[NotificationRule] = Field(
        default_factory=list,
        max_length=10,
        description="How a page reaches this person; none: every paging channel at once.",
    )

    @field_validator("notification_rules", mode="before")
    @classmethod
    def _rules_text(cls, value: Any) -> Any:
        """``"chat;sms@2m;voice@5m"`` (a CSV cell) stands for the list."""
        if isinstance(value, str):
            return [part for part in value.split(";") if part.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_zone(value)


class PersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str | None
    phone: str | None
    chat_id: str | None
    timezone: str
    notification_rules: list[NotificationRule]
    created_at: datetime
