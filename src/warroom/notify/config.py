"""The channels file (``WARROOM_CHANNELS_FILE``): where warroom sends what.

```yaml
secrets_file: secrets.env           # optional: NAME=value lines, looked up before the environment
webhooks:
  - name: ops-events                # unique; deliveries name it
    url: https://hooks.example.com/warroom
    secret_env: OPS_EVENTS_SECRET   # or secret: whsec_... (Standard Webhooks secret)
    events: [incident.triggered, incident.resolved]   # default: every event
    timeout_seconds: 5
slack:
  - name: slack                     # a bot token (DMs, incident channels) or a webhook_url
    bot_token_env: SLACK_BOT_TOKEN
    signing_secret_env: SLACK_SIGNING_SECRET   # for /warroom and the buttons
    incidents_channel: "#incidents"
teams:
  - name: teams                     # a Teams channel's Workflows / incoming webhook URL
    url_env: TEAMS_WEBHOOK_URL
twilio:                             # SMS and voice; page limits default to 5 SMS, 3 calls / 15m
  account_sid: AC0123456789abcdef0123456789abcdef
  auth_token_env: TWILIO_AUTH_TOKEN
  from_number: "+15005550006"
  sms_channel: sms                  # channel names rules use (null: none)
  voice_channel: voice
email:
  - name: ops-mail                  # pages and messages to each person's email address
    host: smtp.example.com
    port: 587
    security: starttls              # starttls (default), tls, or none
    username: warroom
    password_env: SMTP_PASSWORD     # or password: ...
    sender: "warroom <warroom@example.com>"
page_limits:                        # per person and channel; over it, pages wait for a digest
  - {channel: ops-pager, pages: 5, per: 15m}
```
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from warroom.errors import ChannelsError
from warroom.playbook.duration import Duration
from warroom.playbook.loader import format_path, yaml_problem

EventType = Literal[
    "incident.triggered",
    "incident.acknowledged",
    "incident.mitigated",
    "incident.resolved",
    "incident.closed",
    "incident.reopened",
    "incident.retriggered",
    "incident.page",
]
EVENT_TYPES: tuple[EventType, ...] = EventType.__args__  # type: ignore[attr-defined]
# webhooks may also take the first notice of an alert group, sent before its incident is
# declared (warroom.alerts.notices); only when they list it: it is not among the defaults
WebhookEventType = Literal[EventType, "alert.firing"]


def _incident_events() -> list[WebhookEventType]:
    return [*EVENT_TYPES]


NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"  # a channel's name: what rules and deliveries use
Fallback = Annotated[
    str | None,
    Field(description="Channel for a person's page when this one fails for good."),
]


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)
    secret: SecretStr | None = None
    secret_env: str | None = None
    events: list[WebhookEventType] = Field(default_factory=_incident_events, min_length=1)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    fallback: Fallback = None

    @model_validator(mode="after")
    def _secret(self, info: ValidationInfo) -> WebhookConfig:
        self.secret = _secret_from_env(self.secret, self.secret_env, "secret", info)
        if self.secret is None:
            raise ValueError("secret or secret_env is required (receivers verify signatures)")
        return self


def _secret_from_env(
    value: SecretStr | None, variable: str | None, field: str, info: ValidationInfo
) -> SecretStr | None:
    """The secret itself, or the value of the variable named: from the channels file's
    ``secrets_file`` first, then the environment."""
    if variable is None:
        return value
    secrets: dict[str, str] = (info.context or {}).get("secrets", {})
    found = secrets.get(variable) or os.environ.get(variable)
    if not found:
        raise ValueError(f"{field}_env: {variable} is not set (secrets file or environment)")
    return SecretStr(found)


DEFAULT_SLACK_EVENTS: list[EventType] = [
    "incident.triggered",
    "incident.acknowledged",
    "incident.mitigated",
    "incident.resolved",
    "incident.closed",
    "incident.reopened",
]


class SlackConfig(BaseModel):
    """A Slack workspace: a bot token (posts, DMs, incident channels), or only an incoming
    webhook URL (posts to one channel); a signing secret enables /warroom and buttons."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="slack", pattern=NAME_PATTERN)
    bot_token: SecretStr | None = None
    bot_token_env: str | None = None
    webhook_url: SecretStr | None = None
    webhook_url_env: str | None = None
    signing_secret: SecretStr | None = None
    signing_secret_env: str | None = None
    incidents_channel: str = Field(default="#incidents", min_length=1, max_length=100)
    events: list[EventType] = Field(default_factory=lambda: list(DEFAULT_SLACK_EVENTS))
    incident_channels: bool = Field(
        default=True, description="Open inc-<id>-<slug> for each incident (bot token only)."
    )
    api_url: str = Field(default="https://slack.com/api/", pattern=r"^https?://\S+/$")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    fallback: Fallback = None

    @model_validator(mode="after")
    def _secrets(self, info: ValidationInfo) -> SlackConfig:
        self.bot_token = _secret_from_env(self.bot_token, self.bot_token_env, "bot_token", info)
        self.webhook_url = _secret_from_env(
            self.webhook_url, self.webhook_url_env, "webhook_url", info
        )
        self.signing_secret = _secret_from_env(
            self.signing_secret, self.signing_secret_env, "signing_secret", info
        )
        if self.bot_token is None and self.webhook_url is None:
            raise ValueError("bot_token (or bot_token_env) or webhook_url is required")
        return self


class TeamsConfig(BaseModel):
    """A Microsoft Teams channel's Workflows (or incoming webhook) URL: events, pages and
    messages are posted there as Adaptive Cards."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="teams", pattern=NAME_PATTERN)
    url: SecretStr | None = None
    url_env: str | None = None
    events: list[EventType] = Field(default_factory=lambda: list(DEFAULT_SLACK_EVENTS))
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    fallback: Fallback = None

    @model_validator(mode="after")
    def _url(self, info: ValidationInfo) -> TeamsConfig:
        self.url = _secret_from_env(self.url, self.url_env, "url", info)
        if self.url is None:
            raise ValueError("url or url_env is required")
        if not self.url.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("url: not an http(s) URL")
        return self


class TwilioConfig(BaseModel):
    """SMS and voice calls through Twilio's REST API; replies come back to /twilio/..."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str = Field(pattern=r"^AC[0-9a-zA-Z]{10,40}$")
    auth_token: SecretStr | None = None
    auth_token_env: str | None = None
    from_number: str = Field(pattern=r"^\+[1-9]\d{6,14}$", description="E.164, yours.")
    sms_fallback: str | None = Field(default=None, description="When an SMS fails for good.")
    sms_channel: str | None = Field(default="sms", pattern=NAME_PATTERN)
    voice_channel: str | None = Field(default="voice", pattern=NAME_PATTERN)
    api_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://\S+[^/]$")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _token(self, info: ValidationInfo) -> TwilioConfig:
        self.auth_token = _secret_from_env(self.auth_token, self.auth_token_env, "auth_token", info)
        if self.auth_token is None:
            raise ValueError("auth_token or auth_token_env is required")
        if self.sms_channel is None and self.voice_channel is None:
            raise ValueError("name an sms_channel, a voice_channel or both")
        return self

    def names(self) -> list[str]:
        return [n for n in (self.sms_channel, self.voice_channel) if n is not None]


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    sender: str = Field(min_length=3, max_length=320, description="The From address.")
    ca_file: Path | None = Field(default=None, description="CA bundle for a private CA.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    fallback: Fallback = None

    @model_validator(mode="after")
    def _password(self, info: ValidationInfo) -> EmailConfig:
        self.password = _secret_from_env(self.password, self.password_env, "password", info)
        if self.username is not None and self.password is None:
            raise ValueError("username needs password or password_env")
        if "@" not in self.sender:
            raise ValueError("sender: not an email address")
        return self


class PageLimit(BaseModel):
    """At most ``pages`` pages to one person over one channel within ``per``; the pages
    over it are held and sent as one digest when the window ends."""

    model_config = ConfigDict(extra="forbid")

    channel: str
    pages: int = Field(ge=1, le=1000)
    per: Duration

    @model_validator(mode="after")
    def _window(self) -> PageLimit:
        if not timedelta(minutes=1) <= self.per <= timedelta(days=1):
            raise ValueError("per: between 1m and 1d")
        return self


class ChannelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secrets_file: Path | None = Field(
        default=None, description="NAME=value lines that *_env settings are looked up in first."
    )
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    email: list[EmailConfig] = Field(default_factory=list)
    slack: list[SlackConfig] = Field(default_factory=list, max_length=1)
    twilio: TwilioConfig | None = None
    teams: list[TeamsConfig] = Field(default_factory=list)
    page_limits: list[PageLimit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ChannelsConfig:
        names = [w.name for w in self.webhooks] + [e.name for e in self.email]
        names += [s.name for s in self.slack] + [t.name for t in self.teams]
        names += self.twilio.names() if self.twilio else []
        if len(set(names)) != len(names) or "console" in names:
            raise ValueError("channel names must be unique and not 'console'")
        for name, fallback in self.fallbacks().items():
            if fallback not in names and fallback != "console":
                raise ValueError(f"{name}: fallback: no channel named {fallback!r}")
            seen = {name}
            step: str | None = fallback
            while step is not None:
                if step in seen:
                    raise ValueError(f"{name}: fallback: channels fall back in a circle")
                seen.add(step)
                step = self.fallbacks().get(step)
        limited = [limit.channel for limit in self.page_limits]
        for index, name in enumerate(limited):
            if name != "console" and name not in names:
                raise ValueError(f"page_limits[{index}].channel: no channel named {name!r}")
            if limited.count(name) > 1:
                raise ValueError(f"page_limits[{index}].channel: {name!r} is limited twice")
        return self

    def fallbacks(self) -> dict[str, str]:
        """Channel -> the channel a person's failed page goes to next."""
        found = {w.name: w.fallback for w in self.webhooks}
        found |= {c.name: c.fallback for c in self.slack}
        found |= {e.name: e.fallback for e in self.email}
        found |= {t.name: t.fallback for t in self.teams}
        if self.twilio is not None and self.twilio.sms_channel:
            found[self.twilio.sms_channel] = self.twilio.sms_fallback
        return {name: to for name, to in found.items() if to is not None}

    def limits(self) -> list[PageLimit]:
        """The page limits, with Twilio's defaults (5 SMS, 3 calls per 15 minutes) for its
        channels unless set."""
        found = list(self.page_limits)
        limited = {x.channel for x in found}
        if self.twilio is not None:
            for name, pages in ((self.twilio.sms_channel, 5), (self.twilio.voice_channel, 3)):
                if name is not None and name not in limited:
                    found.append(PageLimit(channel=name, pages=pages, per=timedelta(minutes=15)))
        return found


def load_channels(path: Path | None) -> ChannelsConfig:
    """The channels in ``path`` (none without one); ChannelsError lists every problem."""
    if path is None:
        return ChannelsConfig()
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except OSError as exc:
        raise ChannelsError([f"cannot read the file: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise ChannelsError([yaml_problem(exc)]) from exc
    secrets: dict[str, str] = {}
    if isinstance(data, dict) and data.get("secrets_file"):
        secrets_path = path.parent / str(data["secrets_file"])
        if not secrets_path.is_file():
            raise ChannelsError([f"secrets_file: cannot read {secrets_path}"])
        secrets = {k: v for k, v in dotenv_values(secrets_path).items() if v is not None}
    try:
        return ChannelsConfig.model_validate(data, context={"secrets": secrets})
    except ValidationError as exc:
        raise ChannelsError(
            [
                f"{format_path(tuple(e['loc'])) or '(top)'}: "
                f"{str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors()
            ]
        ) from exc
