"""The read-only directory pages on both backends: alerts (filters, pages, bad filters),
who is on call, people and contacts, the playbook; sign-in required; accessible markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import pytest

from tests.conftest import Api
from tests.web_session import sign_in
from warroom.runtime import Runtime

PAGES = ("/alerts", "/oncall", "/people", "/playbook")
ROW = re.compile(r'<td><span class="status status-(firing|resolved)">')


def created(api: Api, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = api.client.post(path, headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def between(html: str, start: str, end: str) -> str:
    """The part of the page from the first ``start`` to the next ``end``."""
    _head, found, tail = html.partition(start)
    assert found, f"{start!r} is not on the page"
    return tail.partition(end)[0]


class Markup(HTMLParser):
    """What the accessibility checks need: headings, header cells, fields, labels, ids."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.header_scopes: list[str | None] = []
        self.fields: list[str | None] = []
        self.labels: set[str] = set()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"] or "")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "th":
            self.header_scopes.append(a.get("scope"))
        elif tag == "label" and a.get("for"):
            self.labels.add(a["for"] or "")
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.fields.append(a.get("id"))


def check_markup(html: str) -> None:
    """Headings in order from one h1, column headers scoped, every field labelled, ids unique."""
    found = Markup()
    found.feed(html)
    assert found.headings[0] == 1, found.headings
    assert found.headings.count(1) == 1, found.headings
    for before, after in zip(found.headings, found.headings[1:], strict=False):
        assert after <= before + 1, f"heading h{before} is followed by h{after}"
    assert all(scope == "col" for scope in found.header_scopes)
    for field in found.fields:
        assert field is not None, "a field has no id"
        assert field in found.labels, f"field {field} has no label"
    assert len(found.ids) == len(set(found.ids)), "an id appears twice"


def page(api: Api, path: str, expect: int = 200, **params: str) -> str:
    """A page's HTML, its status and markup checked, without the <wbr> line-break hints."""
    response = api.client.get(path, params=params)
    assert response.status_code == expect, response.text
    check_markup(response.text)
    return response.text.replace("<wbr>", "")


# --- sign-in -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/alerts?status=firing&q=disk"])
def test_pages_need_a_signed_in_user(api: Api, path: str) -> None:
    response = api.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login?next=")
    assert unquote(location.removeprefix("/login?next=")) == path


# --- alerts --------------------------------------------------------------------------------


def seed_alerts(api: Api) -> int:
    """26 quiet disk alerts from prometheus; one backup alert from cron that fired twice,
    opened an incident and then resolved. Returns the incident's id."""
    integrations = {}
    for name in ("prometheus", "cron"):
        body = {"name": name, "kind": "generic"}
        integrations[name] = created(api, "/api/v1/integrations", body, api.admin)["key"]
    disks = [
        {"summary": f"Disk full on host-{n:02d}", "severity": "info", "dedup_key": f"disk-{n:02d}"}
        for n in range(26)
    ]
    hook = "/hooks/generic/{}"
    response = api.client.post(hook.format(integrations["prometheus"]), json={"alerts": disks})
    assert response.status_code == 202, response.text
    backup = {"summary": "Backup job failed", "severity": "critical", "dedup_key": "backup-7"}
    for status in ("firing", "firing", "resolved"):
        response = api.client.post(
            hook.format(integrations["cron"]), json={"alerts": [backup | {"status": status}]}
        )
        assert response.status_code == 202, response.text
    api.settle()  # answered once committed; ingested right after
    found = api.client.get("/api/v1/alerts", headers=api.viewer, params={"q": "backup"}).json()
    incident_id: int = found["items"][0]["incident_id"]
    assert incident_id
    return incident_id


def test_alerts_list_filters_and_pages(api: Api, runtime: Runtime) -> None:
    incident_id = seed_alerts(api)
    sign_in(api.client, runtime)

    first = page(api, "/alerts")
    assert 'Alerts <span class="count">27</span>' in first
    assert len(ROW.findall(first)) == 25
    assert "page 1 of 2" in first
    assert "Backup job failed" in first  # newest first
    assert 'href="/alerts?page=2"' in first
    second = page(api, "/alerts", page="2")
    assert len(ROW.findall(second)) == 2
    assert "Disk full on host-00" in second
    assert "Backup job failed" not in second

    resolved = page(api, "/alerts", status="resolved")
    assert ROW.findall(resolved) == ["resolved"]
    row = between(resolved, '<tr class="sev-p1">', "</tr>")
    assert '<span class="sev">P1</span> Backup job failed' in row
    assert "<code>backup-7</code> · cron" in row
    assert f'<a href="/incidents/{incident_id}">#{incident_id}</a>' in row
    assert "<td>2</td>" in row  # fired twice
    assert '<time datetime="2026-01-01T12:00:00+00:00"' in row
    assert "<option selected>resolved</option>" in resolved
    assert 'href="/alerts?status=resolved&amp;page=2"' not in resolved

    firing = page(api, "/alerts", status="firing", q="HOST-1")
    assert ROW.findall(firing) == ["firing"] * 10  # host-10 to host-19
    assert 'value="HOST-1"' in firing
    by_source = page(api, "/alerts", integration="cron")
    assert len(ROW.findall(by_source)) == 1
    assert "Backup job failed" in by_source
    assert "<option selected>cron</option>" in by_source
    nothing = page(api, "/alerts", q="no such alert")
    assert "No alert matches." in nothing
    assert "page 1 of" not in nothing


def test_alert_pages_keep_the_filters(api: Api, runtime: Runtime) -> None:
    seed_alerts(api)
    sign_in(api.client, runtime)
    first = page(api, "/alerts", status="firing", q="disk")
    assert 'href="/alerts?status=firing&amp;q=disk&amp;page=2"' in first
    second = page(api, "/alerts", status="firing", q="disk", page="2")
    assert ROW.findall(second) == ["firing"]
    assert 'href="/alerts?status=firing&amp;q=disk&amp;page=1"' in second


@pytest.mark.parametrize(
    ("params", "field", "kept"),
    [
        ({"status": "burning"}, "status", "<option selected>burning</option>"),
        ({"integration": "nagios"}, "integration", "<option selected>nagios</option>"),
        ({"q": "x" * 201}, "q", f'value="{"x" * 201}"'),
    ],
)
def test_bad_alert_filters_are_named_and_kept(
    api: Api, runtime: Runtime, params: dict[str, str], field: str, kept: str
) -> None:
    seed_alerts(api)
    sign_in(api.client, runtime)
    html = page(api, "/alerts", 422, **params)
    problem = between(html, '<p class="problem" role="alert" id="filter-problem">', "</p>")
    assert problem.startswith(f"{field}:")
    assert kept in html
    invalid = re.findall(r'<(?:input|select) id="[^"]+" name="(\w+)"[^>]*aria-invalid', html)
    assert invalid == [field]
    assert ROW.findall(html) == []


# --- on call -------------------------------------------------------------------------------


def seed_oncall(api: Api) -> dict[str, int]:
    ids = {}
    for name in ("ana", "ben", "cy", "dee"):
        body = {"name": name.title(), "email": f"{name}@example.com"}
        ids[name] = created(api, "/api/v1/people", body, api.responder)["id"]
    layer = {"name": "main", "rotation": "daily", "start": "2025-12-01"}
    primary = {"name": "primary", "layers": [layer | {"participants": ["ana"]}]}
    office = {
        "name": "office-hours",
        "timezone": "Europe/Berlin",
        "layers": [
            layer
            | {
                "participants": ["cy"],
                "restrict": [
                    {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}
                ],
            }
        ],
    }
    for body in (primary, office):
        ids[body["name"]] = created(api, "/api/v1/schedules", body, api.admin)["id"]
    overrides = f"/api/v1/schedules/{ids['primary']}/overrides"
    for start, end, note in (
        ("2026-01-03T09:00:00Z", "2026-01-03T21:00:00Z", "Ana at a wedding"),
        ("2025-12-20T09:00:00Z", "2025-12-21T09:00:00Z", "old swap"),
    ):
        body = {"person": "dee", "starts_at": start, "ends_at": end, "note": note}
        created(api, overrides, body, api.responder)
    team = {"name": "database", "members": ["ana", "ben"], "schedule": "primary"}
    ids["database"] = created(api, "/api/v1/teams", team, api.admin)["id"]
    policy = {
        "name": "default",
        "repeat": 2,
        "levels": [
            {"targets": [{"schedule": "primary"}], "timeout": "5m"},
            {"targets": [{"person": "ben"}, {"team": "database"}], "timeout": "10m"},
        ],
    }
    created(api, "/api/v1/escalation-policies", policy, api.admin)
    return ids


def test_oncall_shows_now_the_week_overrides_gaps_and_policies(api: Api, runtime: Runtime) -> None:
    ids = seed_oncall(api)
    sign_in(api.client, runtime)
    html = page(api, "/oncall")

    primary = between(html, f'id="schedule-{ids["primary"]}"', "</section>")
    now_line = between(primary, "On call now:", "</p>")
    assert f'<a href="/people#person-{ids["ana"]}">Ana</a>' in now_line
    assert "(main)" in now_line
    assert "No gaps in the next 4w." in primary
    week = between(primary, "<tbody>", "</tbody>")
    dee = between(week, '<tr><td><time datetime="2026-01-03T09:00:00+00:00"', "</tr>")
    assert '<time datetime="2026-01-03T21:00:00+00:00"' in dee
    assert "Dee</a> " in dee
    assert "(override)" in dee
    assert "nobody" not in week
    overrides = between(primary, "<h4>Overrides</h4>", "</ul>")
    assert "<strong>Dee</strong> instead of everyone" in overrides
    assert "Ana at a wedding" in overrides
    assert "old swap" not in overrides

    office = between(html, f'id="schedule-{ids["office-hours"]}"', "</section>")
    assert "Europe/Berlin" in office
    assert "Cy</a>" in between(office, "On call now:", "</p>")  # Thursday 13:00 in Berlin
    assert "gaps with nobody on call in the next 4w" in office
    assert '<span class="overdue">nobody (a gap)</span>' in between(office, "<tbody>", "</tbody>")

    policy = between(html, 'id="policies-h"', "</section>")
    assert "default" in policy
    first, second = re.findall(r"<li>Page(.*?)</li>", policy, re.S)
    assert f'whoever is on call on <a href="#schedule-{ids["primary"]}">primary</a>' in first
    assert "wait 5 min for an acknowledgement" in first
    assert f'<a href="/people#person-{ids["ben"]}">Ben</a>' in second
    assert f'team <a href="/people#team-{ids["database"]}">database</a>' in second
    assert "wait 10 min" in second
    assert "Then all levels again, 2 more times." in policy


def test_oncall_when_nothing_is_set_up(api: Api, runtime: Runtime) -> None:
    sign_in(api.client, runtime, role="admin")
    html = page(api, "/oncall")
    assert "No schedules yet." in html
    assert "No escalation policies yet." in html


# --- people --------------------------------------------------------------------------------


def test_people_teams_and_contacts(api: Api, runtime: Runtime) -> None:
    ids = seed_oncall(api)
    ana = {
        "name": "Ana Ruiz",
        "email": "ana.ruiz@example.com",
        "phone": "+4930123456",
        "chat_id": "U0ANA",
        "timezone": "Europe/Berlin",
        "notification_rules": ["console", "console@2m"],
    }
    ana_id = created(api, "/api/v1/people", ana, api.responder)["id"]
    contact = {
        "name": "Counsel on call",
        "kind": "legal",
        "organisation": "Smith & Partners",
        "phone": "+18005550100",
        "email": "duty@smith.example",
        "notes": "Ask for the duty partner",
    }
    created(api, "/api/v1/contacts", contact, api.admin)
    sign_in(api.client, runtime, role="responder")
    html = page(api, "/people")

    assert 'People <span class="count">5</span>' in html
    row = between(html, f'<tr id="person-{ana_id}">', "</tr>")
    assert "<strong>Ana Ruiz</strong>" in row
    assert "Europe/Berlin" in row
    assert '<a href="mailto:ana.ruiz@example.com">' in row
    assert '<a href="tel:+4930123456">' in row
    assert "U0ANA" in row
    assert "console at once, console after 2 min" in row
    ben = between(html, f'<tr id="person-{ids["ben"]}">', "</tr>")
    assert "every paging channel at once" in ben

    team = between(html, f'<tr id="team-{ids["database"]}">', "</tr>")
    assert f'<a href="/oncall#schedule-{ids["primary"]}">primary</a>' in team
    assert f'<a href="#person-{ids["ana"]}">Ana</a>, <a href="#person-{ids["ben"]}">Ben</a>' in team

    outside = between(html, 'id="contacts-h"', "</table>")
    assert "<strong>Counsel on call</strong>" in outside
    assert "Smith &amp; Partners" in outside
    assert "<td>legal</td>" in outside
    assert '<a href="tel:+18005550100">' in outside
    assert '<a href="mailto:duty@smith.example">' in outside
    assert "Ask for the duty partner" in outside


def test_people_when_the_directory_is_empty(api: Api, runtime: Runtime) -> None:
    sign_in(api.client, runtime)
    html = page(api, "/people")
    assert "Nobody in the directory yet." in html
    assert "No teams yet." in html
    assert "No external contacts yet." in html


# --- playbook ------------------------------------------------------------------------------


def test_playbook_shows_every_part(api: Api, runtime: Runtime) -> None:
    sign_in(api.client, runtime)
    html = page(api, "/playbook")
    playbook = runtime.playbook

    assert "<h1>Playbook: Emergency Response Procedures</h1>" in html
    p0 = between(html, '<tr class="sev-p0">', "</tr>")
    assert "Critical" in p0
    assert "<li>Data breach</li>" in p0
    assert "<td>30m</td>" in p0
    guide = between(html, 'id="severity-guide-h"', "</ol>")
    assert "<li>complete outage: <strong>P0</strong></li>" in guide
    assert "more than 50% of users affected: <strong>P1</strong>" in guide
    assert "otherwise: <strong>P3</strong>" in guide
    assert "Breaches, compromises and other security incidents." in html
    commander = between(html, "<td>Incident Commander<br>", "</tr>")
    assert "core team · required for Operational, Security incidents" in commander
    assert "<td>DevOps Lead<br>" in commander
    assert '<a href="/oncall">devops-lead</a>' in commander

    phases = between(html, 'id="phases-h"', 'id="templates-h"')
    assert "Immediate Response <span" in phases
    assert "0m to 15m" in phases
    assert "30m on" in phases  # P0 recovery has no end
    assert "<li>Incident Detection<ul>" in phases
    assert "Runs for Operational P0, Security P0." in phases
    assert "Isolate affected systems" in phases

    alert = between(html, 'id="template-internal-alert"', "</section>")
    assert "for internal" in alert
    assert "<pre" in alert
    assert "INCIDENT ALERT" in alert
    assert "Severity: {{ severity }}" in alert  # the placeholders are shown, not rendered
    customer = between(html, 'id="template-customer-notification"', "</section>")
    assert "Subject:</span> Service Incident Notification" in customer

    assert "AWS Support" in html
    assert "security@pixelated-empathy.com" in html
    assert "S3 bucket pixelated-emergency-docs" in html
    assert "Conduct hot wash meeting" in between(html, 'id="post-incident-h"', "</section>")

    for runbook in playbook.runbooks:
        assert html.count(f'id="runbook-{runbook.key}"') == 1
    linked = set(re.findall(r'href="#runbook-([^"]+)"', html))
    assert linked
    assert linked <= {r.key for r in playbook.runbooks}
    failover = between(html, 'id="runbook-database-failover"', "</article>")
    assert "<code>./scripts/database-failover.sh</code>" in failover
    assert "dangerous" in failover
