"""The first notice of an alert group: an ``alert.firing`` webhook event, sent as soon as the
request that brings the group's first firing alert is committed, before the alert is ingested
and its incident declared (``incident.triggered`` follows, from the ingest).

Ingesting a new group (dedup, routing, declaring the incident with its plan, fanning out its
events) takes milliseconds, and under a storm the ingest runs behind what is accepted. The
notice does not wait for it: the event loop that committed the request routes its alerts with
the playbook (pure, in memory), and for each group this process does not know to be firing,
and not silenced, whose route pages (a severity), it POSTs the event to every webhook channel
subscribed to ``alert.firing``, signed like every other webhook. Each try is then recorded in
the outbox by a thread: a sent one as sent; a failed one queued, retried with backoff like any
delivery.

After each commit the ingest tells which groups started firing in it (``started_by_ingest``),
and those the event loop did not notice are noticed then: under a flood the event loop
decides none for a request of more than ``FLOOD_ALERTS`` alerts (accepting goes first;
those of fewer cost it little, and are sent at once, ``FLOOD_AT_ONCE`` of them and then
``FLOOD_AT_ONCE_PER_SECOND``), and its silences may be a second old.

Which groups are firing is kept in memory, changed by the event loop only: read from the
database when the app starts, then each group noticed is claimed, and at most every
``RESYNC_SECONDS``, once the intake has ingested everything claimed so far, read again (so a
group whose alerts all resolved is new again). Silences in force are read at most
``SILENCES_SECONDS`` apart, and at once after a silence is made or ended through this
process's API. Each process decides by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy import select
from standardwebhooks import Webhook

from warroom.alerts import routing, silences
from warroom.alerts.backlog import Stored, Submission
from warroom.alerts.batch import ALERTS, StartedGroup, bounded_fingerprint, group_key
from warroom.alerts.normalize import NormalizedAlert, fingerprint_of, summary_of
from warroom.alerts.ratelimit import RateLimiter
from warroom.alerts.sources import alertmanager
from warroom.notify import outbox
from warroom.notify.base import Message
from warroom.notify.config import WebhookConfig
from warroom.notify.webhook import answered, signed_headers
from warroom.runtime import Runtime

logger = logging.getLogger("warroom.alerts")
EVENT = "alert.firing"
Checked = NormalizedAlert | alertmanager.WebhookAlert  # an alert as a hook took it
MAX_ALERTS = 20  # alerts of one group described in one notice
RESYNC_SECONDS = 5.0  # the firing groups are read again at most this often
MAX_DECISIONS = 10_000  # routing decisions kept, at most
SILENCES_SECONDS = 1.0  # the silences are read again when older than this
RECORD_AFTER_SECONDS = 0.05  # tries are recorded together, this long after the first
WAKE_AFTER_SECONDS = 0.002  # ingesting waits for the notices under way at most this long
CLOSE_SECONDS = 5.0  # at shutdown, sending what waits gets at most this long
RETRY_RECORD_SECONDS = 0.5
MAX_SENDING = 8  # tries under way at once, at most
DEFER_LOOK_SECONDS = 0.02  # under a flood, how often to look whether it is over
DEFER_AT_MOST_SECONDS = 2.0  # a flood holds the notices up at most this long (as the ingest)
FLOOD_ALERTS = 5  # under a flood, a request of at most this many alerts is noticed at once:
FLOOD_AT_ONCE = 20  # this many such requests at most, and then
FLOOD_AT_ONCE_PER_SECOND = 20.0  # this many a second
AT_ONCE = "at-once"  # the rate limiter's one client: the requests noticed at once in a flood
FIRING_GROUPS = (
    select(ALERTS.c.group_key)
    .where(ALERTS.c.status == "firing", ALERTS.c.incident_id.is_not(None))
    .distinct()
)


@dataclass(frozen=True)
class Target:
    """A webhook channel subscribed to ``alert.firing``."""

    name: str
    url: str
    signer: Webhook
    timeout: float

    @classmethod
    def of(cls, config: WebhookConfig) -> Target:
        assert config.secret is not None
        secret = config.secret.get_secret_value()
        return cls(config.name, config.url, Webhook(secret), config.timeout_seconds)


@dataclass
class Group:
    """A group noticed in one request: its routing and its alerts there."""

    key: str
    decision: routing.Decision
    alerts: list[Checked] = field(default_factory=list)


class Notices:
    """The first notices of one process. ``start`` and ``after_commit`` run on the event loop;
    ``caught_up``, ``read_silences`` and ``started_by_ingest`` on the intake thread."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.targets = [Target.of(w) for w in runtime.configured.webhooks if EVENT in w.events]
        self._claimed: dict[str, float] | None = None  # group -> when claimed (None: unread)
        self._routing = runtime.playbook.alert_routing
        # (group, whether no route matched, severity label): a route may be named "default"
        self._decisions: dict[tuple[str, bool, str], routing.Decision] = {}
        self._resynced_at = time.monotonic()
        # the silences in force now or later, and when they were read (monotonic)
        self._silences: tuple[list[tuple[datetime, datetime, silences.Active]], float] = (
            [],
            -SILENCES_SECONDS,
        )
        self._silences_generation = 0  # moved on by each change this process makes
        self._loop: asyncio.AbstractEventLoop | None = None  # the one that claims (the last)
        self._sending = 0  # tries under way (from when their task is made)
        self._line: deque[tuple[Target, str]] = deque()  # to send, in order
        self._running = 0  # tries whose task runs
        self._started = 0  # tries whose task was made, ever
        self._closing = False
        self._deferred: list[str] = []  # notices held up by a flood, in order
        self._deferred_since = 0.0
        # whether a flood keeps the event loop busy (the intake's front door tells)
        self.flooded: Callable[[], bool] = lambda: False
        self._then: list[Callable[[], None]] = []  # to call once those are done
        self._severities = frozenset(s.key for s in runtime.playbook.severities)
        self._clients: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._tried: list[outbox.Tried] = []  # to record: (channel, message, error)
        self._lock = threading.Lock()
        # under a flood, the requests whose new groups are noticed at once
        self._flood_at_once = RateLimiter(burst=FLOOD_AT_ONCE, every=1 / FLOOD_AT_ONCE_PER_SECOND)

    def start(self) -> None:
        """On the app's event loop, before any request: the groups firing now are read, so
        that the notices go only to groups that start firing from now on (read later, a
        group ingested meanwhile would pass for one that fired before)."""
        if self.targets:
            self._loop = asyncio.get_running_loop()
            self._claimed_groups()

    def after_commit(self, committed: Sequence[tuple[Submission, Stored]]) -> bool:
        """Send the notices of the groups these committed requests start (none when no
        channel wants them); whether a try started now. Never raises: the requests are
        answered whatever happens here, and their alerts' incident.triggered still comes."""
        if not self.targets:
            return False
        self._loop = asyncio.get_running_loop()
        started = self._started
        flooded = self.flooded()
        for submission, stored in committed:
            if flooded and (
                submission.count > FLOOD_ALERTS or not self._flood_at_once.ready(AT_ONCE)
            ):
                continue  # accepting goes first: the ingest tells of the new groups
            try:
                self._notice(submission, stored, at_once=flooded)
            except Exception:
                logger.exception("sending the alert.firing notices failed")
        return self._started != started

    def _notice(self, submission: Submission, stored: Stored, *, at_once: bool) -> None:
        if stored.integration_id is None:
            return
        groups = self._new_groups(stored.integration_id, submission)
        if not groups:
            return
        now = self.runtime.clock.now()
        bodies = [_event(group, stored.integration_id, submission.kind, now) for group in groups]
        if at_once and not self._flood_at_once.take_or_wait(AT_ONCE):
            self._start(bodies)
        else:
            self._send_or_hold(bodies)

    def _send_or_hold(self, bodies: list[str]) -> None:
        """Send these now, or, under a flood (or behind notices it holds), hold them."""
        if self.flooded() or self._deferred:  # after those deferred already: in order
            self._defer(bodies)
        else:
            self._start(bodies)

    def _start(self, bodies: list[str]) -> None:
        """Send these, MAX_SENDING at a time (a storm's notices wait in line, not as tasks
        and connections)."""
        for body in bodies:
            for target in self.targets:
                self._sending += 1  # from now: the ingest's wake waits for it to start
                self._line.append((target, body))
        self._pump()

    def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while self._line and self._running < MAX_SENDING and not self._closing:
            target, body = self._line.popleft()
            self._running += 1
            self._started += 1
            task = loop.create_task(self._send(target, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _defer(self, bodies: list[str]) -> None:
        """Under a flood, accepting goes first: the notices wait until it is over, or
        DEFER_AT_MOST_SECONDS at most."""
        if not self._deferred:
            self._deferred_since = time.monotonic()
            asyncio.get_running_loop().call_later(DEFER_LOOK_SECONDS, self._send_deferred)
        self._deferred += bodies

    def _send_deferred(self) -> None:
        waited = time.monotonic() - self._deferred_since
        if self.flooded() and waited < DEFER_AT_MOST_SECONDS:
            asyncio.get_running_loop().call_later(DEFER_LOOK_SECONDS, self._send_deferred)
            return
        bodies, self._deferred = self._deferred, []
        self._start(bodies)

    def _new_groups(self, integration_id: int, submission: Submission) -> list[Group]:
        """The groups of the request's firing alerts that are not known to fire, with those
        alerts: each alert's group is told first (cheap), its severity and silences only in
        a new group."""
        claimed = self._claimed_groups()
        found: dict[str, Group] = {}
        in_force: list[silences.Active] | None = None
        for item in _checked(submission):
            if item.status != "firing":
                continue
            labels = item.labels
            fingerprint = bounded_fingerprint(item.fingerprint or fingerprint_of(labels))
            route, key = routing.route_and_group(self._routing, labels, fingerprint)
            key = group_key(integration_id, key)
            if key in claimed:
                continue
            decision = self._decision(key, route is None, labels, fingerprint)
            if decision.severity is None:  # opens no incident: not noticed
                continue
            if in_force is None:
                in_force = self._silences_in_force()
            if in_force and silences.silencing(in_force, labels) is not None:
                continue
            group = found.get(key)
            if group is None:
                group = found[key] = Group(key, decision)
            if len(group.alerts) < MAX_ALERTS:
                group.alerts.append(item)
        if found:
            at = time.monotonic()
            for key in found:
                claimed[key] = at
        return list(found.values())

    def _decision(
        self, key: str, fallback: bool, labels: dict[str, str], fingerprint: str
    ) -> routing.Decision:
        """The routing decision of an alert of this group: it depends on the route (in the
        group's key) and the severity label only, so it is kept for the next."""
        known = (key, fallback, labels.get("severity", ""))
        decision = self._decisions.get(known)
        if decision is None:
            decision = routing.decide(self._routing, labels, self._severities, fingerprint)
            if len(self._decisions) >= MAX_DECISIONS:
                self._decisions.clear()
            self._decisions[known] = decision
        return decision

    def _claimed_groups(self) -> dict[str, float]:
        """The groups known to be firing, read from the database the first time."""
        if self._claimed is None:
            at = time.monotonic()
            with self.runtime.read() as session:
                self._claimed = dict.fromkeys(session.scalars(FIRING_GROUPS), at)
        return self._claimed

    def _silences_in_force(self) -> list[silences.Active]:
        known, read_at = self._silences
        if time.monotonic() - read_at >= SILENCES_SECONDS:
            known = self.read_silences()
        now = self.runtime.clock.now()
        return [active for starts, ends, active in known if starts <= now < ends]

    def read_silences(self) -> list[tuple[datetime, datetime, silences.Active]]:
        """Read the silences again (the intake thread does, while it ingests, so that the
        event loop need not). A read that a change overtook is used once, not kept."""
        at, generation = time.monotonic(), self._silences_generation
        with self.runtime.read() as session:
            known = silences.current(session=session, now=self.runtime.clock.now())
        if generation == self._silences_generation:
            self._silences = (known, at)
        return known

    def silences_ageing(self) -> bool:
        """Whether the silences are due to be read again soon."""
        return bool(self.targets) and time.monotonic() - self._silences[1] >= SILENCES_SECONDS / 2

    def forget_silences(self) -> None:
        """A silence was made or ended: read them again before the next notice."""
        self._silences_generation += 1
        self._silences = ([], -SILENCES_SECONDS)

    def when_sent(self, then: Callable[[], None]) -> None:
        """Call ``then`` on this event loop once the tries under way are answered, or after
        WAKE_AFTER_SECONDS at most: the intake thread, woken to ingest, would otherwise
        take the interpreter from them."""
        if not self._sending:
            then()
            return
        self._then.append(then)
        asyncio.get_running_loop().call_later(WAKE_AFTER_SECONDS, self._done_waiting)

    def _done_waiting(self) -> None:
        waiting, self._then = self._then, []
        for then in waiting:
            then()

    def caught_up(self, since: float) -> None:
        """The intake ingested every entry committed before ``since`` (monotonic): read the
        firing groups again if it is time, and hand them to the event loop, which alone
        changes the claims."""
        loop = self._loop
        if self._claimed is None or loop is None:
            return
        if time.monotonic() - self._resynced_at < RESYNC_SECONDS:
            return
        self._resynced_at = time.monotonic()
        with self.runtime.read() as session:
            firing = set(session.scalars(FIRING_GROUPS))
        with contextlib.suppress(RuntimeError):  # a closed event loop: nothing to update
            loop.call_soon_threadsafe(self._resynced, firing, since)

    def started_by_ingest(self, started: list[StartedGroup]) -> None:
        """The ingest (intake thread) committed these groups' incidents: those the event
        loop did not notice (it was flooded, or its silences were stale) are noticed now."""
        loop = self._loop
        if not self.targets or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # a closed event loop: nobody to send
            loop.call_soon_threadsafe(self._notice_started, started)

    def _notice_started(self, started: list[StartedGroup]) -> None:
        try:
            claimed = self._claimed_groups()
            at = time.monotonic()
            now = self.runtime.clock.now()
            bodies = []
            for began in started:
                if began.key in claimed or not began.alerts:
                    continue
                claimed[began.key] = at
                group = Group(began.key, began.decision, list(began.alerts))
                bodies.append(_event(group, began.integration_id, began.kind, now))
            if bodies:
                self._send_or_hold(bodies)
        except Exception:
            logger.exception("sending the alert.firing notices of ingested groups failed")

    def _resynced(self, firing: set[str], since: float) -> None:
        """Keep the claims of groups still firing, and those made since ``since``."""
        claimed = self._claimed or {}
        kept = {key: at for key, at in claimed.items() if key in firing or at >= since}
        self._claimed = kept | dict.fromkeys(firing - kept.keys(), since)

    async def _send(self, target: Target, body: str) -> None:
        message = _message(target, body)
        error: Exception | None = None
        try:
            await self._post(target, message)
        except asyncio.CancelledError:  # stopped before the answer: the outbox tries again
            with self._lock:
                self._tried.append((target.name, message, outbox.NotTried("stopped while sent")))
            raise
        except Exception as exc:  # any failure: the outbox tries again
            error = exc
        finally:
            self._sending -= 1
            self._running -= 1
            if not self._sending:
                self._done_waiting()
            self._pump()
        with self._lock:
            self._tried.append((target.name, message, error))
            first = len(self._tried) == 1
        if first:  # one transaction records what is tried meanwhile, a little later
            asyncio.get_running_loop().call_later(RECORD_AFTER_SECONDS, self._record_soon)

    def _record_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, target: Target, message: Message) -> None:
        async with self._client().post(
            target.url,
            data=message.body.encode(),
            headers=signed_headers(target.signer, message),
            timeout=aiohttp.ClientTimeout(total=target.timeout),
            allow_redirects=False,
        ) as response:
            text = await response.text(errors="replace")
            retry = response.headers.get("retry-after", "")
            answered(response.status, retry, text, target.name, target.url)

    def _client(self) -> aiohttp.ClientSession:
        """This event loop's client: aiohttp takes about a seventh of the CPU time of httpx
        for each request, and these run on the event loop (docs/performance.md)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = aiohttp.ClientSession()
        return client

    def _record(self) -> None:
        """Record what was tried: sent, or queued for the outbox to try again."""
        with self._lock:
            tried, self._tried = self._tried, []
        if not tried:
            return
        for attempt in (1, 2):  # once more: a failed record would lose its retries
            try:
                with self.runtime.transaction() as session:
                    outbox.record_tries(
                        session=session,
                        tries=tried,
                        now=self.runtime.clock.now(),
                    )
                break
            except Exception:
                logger.exception("recording %d alert.firing notices failed", len(tried))
                if attempt == 1:
                    time.sleep(RETRY_RECORD_SECONDS)
        for channel, _, error in tried:
            if error is not None and not isinstance(error, outbox.NotTried):
                logger.warning("alert.firing to %s failed: %s", channel, error)

    async def aclose(self, timeout: float = CLOSE_SECONDS) -> None:
        """Send what waits, for ``timeout`` at most; then leave the rest to the outbox (its
        jobs send them, with the same keys), record every try, and close the clients of
        this event loop."""
        if self._deferred:
            bodies, self._deferred = self._deferred, []
            self._start(bodies)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self._tasks or self._line) and loop.time() < deadline:
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=deadline - loop.time())
            self._pump()
        self._closing = True  # no more tries: the outbox takes what is left
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        while self._line:  # never tried
            target, body = self._line.popleft()
            self._tried.append((target.name, _message(target, body), outbox.NotTried("stopped")))
        if self._tried:  # their record was still to come
            await asyncio.to_thread(self._record)
        self._closing = False  # an app started again sends again
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()


def _message(target: Target, body: str) -> Message:
    """The notice as the outbox keeps it: its key is sent as webhook-id on every try."""
    key = f"warroom-notice-{secrets.token_hex(8)}"
    return Message(recipient=target.url, subject=EVENT, body=body, key=key)


def _checked(submission: Submission) -> Sequence[Checked]:
    """The request's alerts: normalised already, or as the hook validated them."""
    webhook = submission.webhook
    return submission.alerts if webhook is None else webhook.checked


def _event(group: Group, integration_id: int, kind: str, now: datetime) -> str:
    decision = group.decision
    event: dict[str, Any] = {
        "id": f"alert-firing-{secrets.token_hex(8)}",
        "type": EVENT,
        "timestamp": now.isoformat(),
        "data": {
            "group": {
                "key": group.key,
                "route": decision.route,
                "severity": decision.severity,
                "type": decision.type,
            },
            "integration": {"id": integration_id, "kind": kind},
            "alerts": [_alert(a, kind) for a in group.alerts],
        },
    }
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def _alert(item: Checked, kind: str) -> dict[str, Any]:
    """The alert as the notice describes it: as ingesting normalises it (a hook's alert is
    described straight from what the hook validated)."""
    if isinstance(item, NormalizedAlert):
        fingerprint, summary, source = item.fingerprint, item.summary, item.source
        starts_at, url = item.starts_at, item.generator_url
    else:
        fingerprint = item.fingerprint or fingerprint_of(item.labels)
        summary, source = summary_of(item.labels, item.annotations), kind
        starts_at, url = item.startsAt, item.generatorURL
    return {
        "fingerprint": bounded_fingerprint(fingerprint),
        "status": item.status,
        "summary": summary or "(no summary)",
        "source": source,
        "labels": item.labels,
        "annotations": item.annotations,
        "starts_at": starts_at.isoformat() if starts_at else None,
        "generator_url": url,
    }
