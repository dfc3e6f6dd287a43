"""The pages end to end: a real `warroom serve` per backend, driven by a real Chromium.

Signing in, declaring through the form with the severity helper, acting in the incident
room, the room's live updates (Server-Sent Events), what a viewer may not do, the phone
layout, and screenshots of the dashboard and the room for people to look at.

Nothing here sleeps or measures wall-clock time: every wait is Playwright polling for a
state, and the ticking countdowns are checked by moving the browser's clock forward."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tests.browser import (
    DESKTOP,
    PHONE,
    csrf_token,
    have_chromium,
    launch,
    scroll_width,
    sign_in,
    too_wide,
)
from tests.procs import Server, warroom_env
from warroom.auth import service as auth
from warroom.auth import users
from warroom.clock import SystemClock
from warroom.tables import Base

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("cpu-heavy"),  # never beside the kill-and-restart run (make test)
    pytest.mark.skipif(not have_chromium(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]

BACKENDS = ["sqlite", "postgresql"]
PASSWORD = "a long enough passphrase"
ROLES = ("admin", "responder", "viewer")
PEOPLE = ("Ana Lima", "Ben Okafor", "Cleo Park")
REPO = Path(__file__).resolve().parent.parent
# records every page's live stream reaching its first event, so a test can wait for it
WATCH_LIVE = """
(() => {
  const Original = window.EventSource;
  if (!Original) return;
  window.__liveReady = 0;
  window.EventSource = function (url, options) {
    const source = new Original(url, options);
    source.addEventListener("hello", () => { window.__liveReady += 1; });
    return source;
  };
})();
"""


@dataclass
class Site:
    """The running server, an admin API token, and the people and users it knows."""

    url: str
    log: Path
    headers: dict[str, str]
    people: dict[str, int] = field(default_factory=dict)
    signed_in: dict[str, Any] = field(default_factory=dict)  # role: the browser's cookies

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        url = f"{self.url}/api/v1{path}"
        return httpx.request(method, url, headers=self.headers, json=body, timeout=10)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.api(method, path, body)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def declare(self, title: str, severity: str = "P0", **extra: str) -> int:
        body = {"title": title, "severity": severity, **extra}
        return int(self.ok("POST", "/incidents", body)["id"])

    def status(self, incident_id: int) -> str:
        return str(self.ok("GET", f"/incidents/{incident_id}")["status"])

    @staticmethod
    def email(role: str) -> str:
        return f"{role}@example.com"


def _empty_database(backend: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    if backend == "sqlite":
        path = tmp / "warroom.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One server per backend for the module, with a user of each role and three people."""
    tmp = tmp_path_factory.mktemp(f"browser-{request.param}")
    url = _empty_database(request.param, request, tmp)
    engine = create_engine(url)
    now = SystemClock().now()
    with Session(engine) as session, session.begin():
        _, token = auth.create_token(session=session, name="browser", role="admin", now=now)
        for role in ROLES:
            users.create_user(
                session=session,
                email=Site.email(role),
                name=f"{role.title()} User",
                role=role,
                password=PASSWORD,
                now=now,
            )
    engine.dispose()
    log = tmp / "server.log"
    server = Server(warroom_env(url, tmp / "data"), log)
    site = Site(url=server.url, log=log, headers={"Authorization": f"Bearer {token}"})
    try:
        for name in PEOPLE:
            email = name.split()[0].lower() + "@example.com"
            person = site.ok("POST", "/people", {"name": name, "email": email})
            site.people[name] = int(person["id"])
        yield site
    finally:
        server.stop()
    logged = log.read_text(errors="replace")
    assert "Traceback" not in logged, f"the server logged an error:\n{logged[-4000:]}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


class Pages:
    """Opens browser contexts on the site and fails the test on any uncaught script error."""

    def __init__(self, browser: Browser, site: Site) -> None:
        self.browser, self.site = browser, site
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def open(self, role: str | None = "responder", viewport: ViewportSize = DESKTOP) -> Page:
        """A page signed in as ``role`` (through the form the first time, then by its cookies)."""
        context = self.browser.new_context(
            base_url=self.site.url,
            viewport=viewport,
            storage_state=self.site.signed_in.get(role or ""),
        )
        context.add_init_script(WATCH_LIVE)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        if role in self.site.signed_in:
            page.goto("/")
        elif role:
            sign_in(page, self.site.url, Site.email(role), PASSWORD)
            self.site.signed_in[role] = context.storage_state()
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser, site: Site) -> Iterator[Pages]:
    opened = Pages(browser, site)
    try:
        yield opened
    finally:
        opened.close()
    assert not opened.errors, f"script errors on the pages: {opened.errors}"


@pytest.fixture(scope="module")
def showcase(site: Site) -> int:
    """A P0 as it looks a few minutes in: roles held, tasks done, notes written."""
    incident = site.declare(
        "Checkout API returning 502s",
        summary="Payments time out after the 14:02 deploy; EU and US regions affected.",
    )
    roles = {
        "incident-commander": "Ana Lima",
        "technical-lead": "Ben Okafor",
        "communications-lead": "Cleo Park",
    }
    for role, person in roles.items():
        site.ok("PUT", f"/incidents/{incident}/roles/{role}", {"person_id": site.people[person]})
    site.ok("POST", f"/incidents/{incident}/acknowledge", {"note": "On it."})
    for task in ("detect-monitoring", "acknowledge-alert", "create-incident"):
        site.ok("POST", f"/incidents/{incident}/tasks/{task}/complete")
    for note in (
        "Error rate at 38% on checkout-api; started 14:03.",
        "Rolling back deploy 2291 in eu-west-1 first.",
        "Status page updated: degraded checkout.",
    ):
        site.ok("POST", f"/incidents/{incident}/notes", {"text": note})
    return incident


def act_button(page: Page, name: str) -> Locator:
    return page.locator("form[action$='/act']").get_by_role("button", name=name, exact=True)


def room(page: Page, incident: int) -> None:
    page.goto(f"/incidents/{incident}")
    expect(page.locator("#room-header")).to_be_visible()


def test_signing_in_refuses_a_wrong_password_and_lands_on_the_dashboard(pages: Pages) -> None:
    page = pages.open(role=None)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("Email").fill(Site.email("responder"))
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-problem")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_label("Email")).to_have_value(Site.email("responder"))

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{pages.site.url}/")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.locator("form.signout")).to_contain_text("Responder User")


def test_declaring_a_p0_with_the_severity_helper_opens_a_ticking_room(pages: Pages) -> None:
    page = pages.open()
    page.clock.install()  # the browser's own clock, which the test may move forward
    page.get_by_role("link", name="Declare incident").click()
    page.get_by_label("What is wrong?").fill("Everything is down")
    page.get_by_label("Completely").check()
    page.get_by_label("Share of users affected (%)").fill("60")
    page.get_by_role("button", name="Suggest severity").click()
    expect(page.locator(".suggestion")).to_contain_text("Suggested: P0")
    expect(page.get_by_label("Severity")).to_have_value("P0")
    expect(page.get_by_label("What is wrong?")).to_have_value("Everything is down")

    page.get_by_role("button", name="Declare incident").click()
    expect(page).to_have_url(re.compile(r"/incidents/\d+$"))
    expect(page.locator("#incident-title")).to_contain_text("P0 Everything is down")
    expect(page.locator("#incident-status")).to_have_text("triggered")
    clock = page.locator("#phases .clock [data-due]").first
    expect(clock).to_have_text(re.compile(r"^due in \d+ min$"))
    # a countdown this far out shows whole minutes, so move the clock on instead of waiting
    before = clock.inner_text()
    page.clock.fast_forward("02:00")
    expect(clock).not_to_have_text(before)
    expect(clock).to_have_text(re.compile(r"^due in \d+ min$"))


def test_acting_in_the_room(pages: Pages) -> None:
    site = pages.site
    incident = site.declare("Search results empty")
    page = pages.open()
    room(page, incident)

    act_button(page, "Acknowledge").click()
    expect(page.locator("#incident-status")).to_have_text("acknowledged")
    expect(act_button(page, "Acknowledge")).to_have_count(0)

    tasks = page.locator("#phases li.task")
    first_id = tasks.nth(0).get_attribute("id")
    second_id = tasks.nth(1).get_attribute("id")
    first, second = page.locator(f"#{first_id}"), page.locator(f"#{second_id}")
    first.get_by_role("button", name="Complete").click()
    expect(first).to_have_class(re.compile(r"\btask-done\b"))
    expect(first.locator(".badge.ok")).to_have_text("done")
    expect(first).to_contain_text("by user:responder@example.com")

    reason = second.get_by_role("textbox")
    reason.fill("   ")  # blank: no reason given
    second.get_by_role("button", name="Skip").click()
    problem = page.locator(f"#problem-{second_id}")
    expect(problem).to_have_attribute("role", "alert")
    expect(problem).to_contain_text("skipping a task needs a reason")
    expect(second).to_have_class(re.compile(r"\btask-open\b"))
    expect(reason).to_have_value("   ")
    reason.fill("Customers have not noticed yet")
    second.get_by_role("button", name="Skip").click()
    expect(second).to_have_class(re.compile(r"\btask-skipped\b"))
    expect(second).to_contain_text("Customers have not noticed yet")

    assign = page.locator("form[action$='/roles']")
    assign.get_by_label("Role").select_option(label="Technical Lead")
    assign.get_by_label("Person").select_option(label="Ben Okafor")
    assign.get_by_role("button", name="Assign").click()
    holder = page.locator("#roles li", has_text="Technical Lead")
    expect(holder.locator(".holder")).to_have_text("Ben Okafor")
    assert site.status(incident) == "acknowledged"


def test_a_note_added_elsewhere_appears_in_the_open_room(pages: Pages) -> None:
    site = pages.site
    incident = site.declare("Login page slow")
    page = pages.open()
    room(page, incident)
    page.wait_for_function("window.__liveReady >= 1")  # the room's stream is listening
    page.evaluate("window.__sameDocument = true")

    site.ok("POST", f"/incidents/{incident}/notes", {"text": "Cache hit rate dropped to 3%"})
    entries = page.locator("#timeline li.entry")
    expect(page.locator("#timeline")).to_contain_text("Cache hit rate dropped to 3%", timeout=5000)
    expect(entries.first).to_contain_text("Note")
    expect(entries.first).to_have_class(re.compile(r"\bfresh\b"))
    assert page.evaluate("window.__sameDocument") is True, "the room was reloaded"


def test_resolving_then_closing_as_admin(pages: Pages) -> None:
    incident = pages.site.declare("Queue backlog growing", severity="P1")
    page = pages.open("admin")
    room(page, incident)
    act_button(page, "Resolve").click()
    expect(page.locator("#incident-status")).to_have_text("resolved")
    page.get_by_label("Note with the change").fill("Backlog drained; root cause in the report.")
    act_button(page, "Close").click()
    expect(page.locator("#incident-status")).to_have_text("closed")
    expect(act_button(page, "Reopen")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Backlog drained; root cause in the report.")
    assert pages.site.status(incident) == "closed"


def test_a_responder_may_resolve_but_not_close(pages: Pages) -> None:
    incident = pages.site.declare("Webhooks delayed", severity="P2")
    page = pages.open("responder")
    room(page, incident)
    act_button(page, "Resolve").click()
    expect(page.locator("#incident-status")).to_have_text("resolved")
    expect(act_button(page, "Close")).to_have_count(0)


def test_a_viewer_sees_no_actions_and_cannot_post_one(pages: Pages) -> None:
    site = pages.site
    incident = site.declare("Reports export failing", severity="P2")
    page = pages.open("viewer")
    room(page, incident)
    expect(page.locator("#incident-status")).to_have_text("triggered")
    expect(page.locator("form[action$='/act'] button")).to_have_count(0)
    expect(page.locator("#phases button")).to_have_count(0)
    expect(page.get_by_role("heading", name="Add a note")).to_have_count(0)
    expect(page.get_by_role("heading", name="Assign a role")).to_have_count(0)
    expect(page.get_by_role("link", name="Declare incident")).to_have_count(0)

    refused = page.request.post(
        f"/incidents/{incident}/act",
        form={"csrf": csrf_token(page), "action": "acknowledge", "note": ""},
        max_redirects=0,
    )
    assert refused.status == 403, refused.text()
    assert "the viewer role cannot do this" in refused.text()  # the policy, not the CSRF check
    assert site.status(incident) == "triggered"


def test_phone_width_has_no_sideways_scroll(pages: Pages, showcase: int) -> None:
    page = pages.open(viewport=PHONE)
    width = PHONE["width"]
    assert scroll_width(page) <= width, f"dashboard too wide: {too_wide(page, width)}"
    room(page, showcase)
    assert scroll_width(page) <= width, f"incident room too wide: {too_wide(page, width)}"


def screenshot_dir() -> Path:
    path = Path(os.environ.get("WARROOM_SCREENSHOTS") or REPO / "test-artifacts" / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_screenshots_of_the_dashboard_and_the_room(pages: Pages, showcase: int) -> None:
    folder = screenshot_dir()
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = pages.open("admin", viewport=viewport)
        expect(page.locator("#open-incidents")).to_contain_text("Checkout API returning 502s")
        page.screenshot(path=folder / f"dashboard-{name}.png", full_page=True)
        room(page, showcase)
        expect(page.locator("#timeline")).to_contain_text("Status page updated")
        page.screenshot(path=folder / f"incident-{name}.png", full_page=True)
    for name in ("dashboard-phone", "dashboard-desktop", "incident-phone", "incident-desktop"):
        shot = folder / f"{name}.png"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot


def test_the_room_stays_live_after_a_refused_form(pages: Pages) -> None:
    site = pages.site
    incident = site.declare("Disk filling on db-2", severity="P1")
    page = pages.open()
    room(page, incident)
    task = page.locator("#phases li.task").first
    task.get_by_role("button", name="Skip").click()  # no reason: refused
    expect(page.locator(".problem")).to_contain_text("skipping a task needs a reason")
    page.wait_for_function("window.__liveReady >= 1")

    def refresh(response: Any) -> bool:
        return response.request.method == "GET" and "/live/" not in response.url

    with page.expect_response(refresh) as refreshed:
        site.ok("POST", f"/incidents/{incident}/notes", {"text": "Rotated the WAL archive"})
    assert refreshed.value.ok, f"{refreshed.value.url}: {refreshed.value.status}"
    expect(page.locator("#timeline")).to_contain_text("Rotated the WAL archive")
    assert page.url.endswith(f"/incidents/{incident}")  # a reload would not post the form again
    expect(page.locator(".problem")).to_contain_text("skipping a task needs a reason")
