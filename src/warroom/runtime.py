"""Everything a running warroom needs, wired from settings in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from warroom import migrate
from warroom.alerts import integrations, journal
from warroom.checkpoints import Checkpointer
from warroom.clock import Clock, SystemClock
from warroom.db import (
    create_db_engine,
    is_sqlite,
    leave_checkpoints,
    read_session_factory,
    session_factory,
    transaction,
)
from warroom.engine.handlers import Handler, build_handlers
from warroom.engine.worker import Worker, run_queued_events
from warroom.errors import ChannelsError, DatabaseNotReady, PlaybookError
from warroom.incidents import events
from warroom.jobs import service as jobs
from warroom.notify.base import Channel
from warroom.notify.config import ChannelsConfig, load_channels
from warroom.notify.console import ConsoleChannel
from warroom.notify.email import EmailChannel
from warroom.notify.slack import SlackChannel
from warroom.notify.teams import TeamsChannel
from warroom.notify.webhook import WebhookChannel
from warroom.paging import escalation
from warroom.playbook.loader import load_playbook
from warroom.playbook.schema import Playbook
from warroom.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    read_factory: sessionmaker[Session]
    playbook: Playbook
    clock: Clock
    secret_key: str
    channels: dict[str, Channel] = field(default_factory=dict)
    configured: ChannelsConfig = field(default_factory=ChannelsConfig)
    checkpointer: Checkpointer | None = None  # SQLite: started and stopped with the app
    _workers: list[Worker] = field(default_factory=list)

    @contextmanager
    def transaction(self, *, events_now: bool = False) -> Iterator[Session]:
        """A unit of work that may write. When it committed a job that is due now, the
        workers of this process are woken at once instead of at their next poll.

        With ``events_now``, and a worker running in this process, the incident events it
        queued are run in it, and the worker sends them as soon as it commits
        (``worker.run_queued_events``)."""
        sender = self.sender() if events_now else None
        handed = None
        with transaction(self.factory) as session:
            config = self.configured
            session.info[events.WANTED] = bool(config.webhooks or config.slack or config.teams)
            session.info[events.RUN_HERE] = sender is not None
            yield session
            if sender is not None:
                handed = run_queued_events(
                    session=session,
                    handlers=sender.handlers,
                    clock=self.clock,
                    me=sender.name,
                )
        if session.info.get(jobs.DUE_NOW):
            for worker in list(self._workers):
                worker.due_now()
        if sender is not None and handed is not None:
            sender.hand(handed)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit of work that only reads; it must not write."""
        with transaction(self.read_factory) as session:
            yield session

    def handlers(self) -> dict[str, Handler]:
        return build_handlers(
            playbook=self.playbook,
            channels=self.channels,
            configured=self.configured,
            base_url=self.settings.resolved_base_url(),
            secret_key=self.secret_key,
        )

    def fixed_recipients(self) -> dict[str, str]:
        """Channels that send to one place whoever a message is for (the others, email and
        SMS, need recipients)."""
        fixed = {"console": "console"}
        fixed |= {w.name: w.url for w in self.configured.webhooks}
        fixed |= {s.name: s.incidents_channel for s in self.configured.slack}
        fixed |= {t.name: "the Teams channel" for t in self.configured.teams}
        return fixed

    def worker(self) -> Worker:
        worker = Worker(
            factory=self.factory,
            read_factory=self.read_factory,
            clock=self.clock,
            handlers=self.handlers(),
            poll_seconds=self.settings.worker_poll_seconds,
        )
        self._workers.append(worker)
        return worker

    def sender(self) -> Worker | None:
        """A worker of this process, running, to hand what a transaction leaves to send."""
        return next((w for w in self._workers if w.running and not w.stopping.is_set()), None)

    def start_auditor(self) -> None:
        """Make sure the escalation auditor runs (every minute, from now on)."""
        with self.transaction() as session:
            now = self.clock.now()
            escalation.schedule_audit(session=session, due=now, now=now)

    def prepare_database(self) -> None:
        """Upgrade SQLite in place; refuse to run on an outdated PostgreSQL schema."""
        if is_sqlite(str(self.engine.url)):
            if not migrate.is_current(self.engine):
                migrate.upgrade(self.engine)
        elif not migrate.is_current(self.engine):
            raise DatabaseNotReady("the database schema is not current; run: warroom db upgrade")


def _tell_appenders(url: str) -> Callable[[Session], None]:
    """After a commit that changed integration keys: the intake journal's appenders, in any
    process, read them again."""

    def after_commit(session: Session) -> None:
        if session.info.pop(integrations.KEYS_CHANGED, False):
            journal.keys_changed(url)

    return after_commit


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    """Load the playbook and open the database described by the settings."""
    try:
        configured = load_channels(settings.channels_file)
    except ChannelsError as exc:
        raise ChannelsError(
            [
                f"WARROOM_CHANNELS_FILE={settings.channels_file}: {p}"
                for p in exc.details["problems"]
            ]
        ) from exc
    try:
        playbook = load_playbook(settings.playbook)
    except PlaybookError as exc:  # name the file: the setting may be far from the reader
        raise PlaybookError(
            [f"WARROOM_PLAYBOOK={settings.playbook}: {p}" for p in exc.problems]
        ) from exc
    channels: dict[str, Channel] = {"console": ConsoleChannel()}
    channels.update((w.name, WebhookChannel(w)) for w in configured.webhooks)
    channels.update((e.name, EmailChannel(e)) for e in configured.email)
    channels.update((s.name, SlackChannel(s)) for s in configured.slack)
    channels.update((t.name, TeamsChannel(t)) for t in configured.teams)
    if (twilio := configured.twilio) is not None:
        from warroom.notify.twilio import TwilioChannel  # here: starts without Twilio's SDK

        for kind, name in (("sms", twilio.sms_channel), ("voice", twilio.voice_channel)):
            if name:
                channels[name] = TwilioChannel(twilio, kind, name, settings.resolved_base_url())
    url = settings.resolved_database_url()
    engine = create_db_engine(url)
    factory = session_factory(engine)
    checkpointer = None
    if (journal_path := journal.path_for(url)) is not None:
        event.listen(factory, "after_commit", _tell_appenders(url))
        taker = Checkpointer([journal.database_of(journal_path)])
        leave_checkpoints(engine, lambda: taker.running)
        checkpointer = taker
    return Runtime(
        settings=settings,
        engine=engine,
        factory=factory,
        read_factory=read_session_factory(engine),
        playbook=playbook,
        clock=clock or SystemClock(),
        secret_key=settings.resolved_secret_key(),
        channels=channels,
        configured=configured,
        checkpointer=checkpointer,
    )
