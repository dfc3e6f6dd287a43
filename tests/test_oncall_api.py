"""Schedules over the API and the CLI: who is on call, overrides, gaps and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Cli
from warroom.clock import FakeClock

SCHEDULES = "/api/v1/schedules"
PEOPLE = "/api/v1/people"

# Clocks in Berlin go forward on Sunday 2026-03-29; the test clock starts 2026-01-01 12:00 UTC.
DEVOPS = {
    "name": "devops-lead",
    "timezone": "Europe/Berlin",
    "description": "Incident Commander rotation",
    "layers": [
        {
            "name": "primary",
            "rotation": "daily",
            "handoff": "09:00",
            "start": "2025-12-01",
            "participants": ["ana@example.com", "ben@example.com"],
        },
        {
            "name": "office-hours",
            "rotation": "weekly",
            "handoff_day": "mon",
            "handoff": "09:00",
            "start": "2025-12-29",
            "participants": ["cy@example.com"],
            "restrict": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}
            ],
        },
    ],
}


def add_people(api: Api) -> dict[str, int]:
    ids = {}
    for name in ("ana", "ben", "cy", "dee"):
        body = {"name": name.title(), "email": f"{name}@example.com", "timezone": "Europe/Berlin"}
        response = api.client.post(PEOPLE, headers=api.responder, json=body)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    return ids


def create(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.client.post(SCHEDULES, headers=api.admin, json=body or DEVOPS)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def who(api: Api, schedule_id: int, at: str) -> tuple[list[str], str]:
    response = api.client.get(
        f"{SCHEDULES}/{schedule_id}/oncall", headers=api.viewer, params={"at": at}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return [p["name"] for p in body["people"]], body["source"]


def test_who_is_on_call_follows_layers_and_the_clock_change(api: Api) -> None:
    add_people(api)
    schedule = create(api)
    assert schedule["gaps"] == []
    assert schedule["layers"][1]["restrict"][0]["from"] == "09:00:00"
    sid = schedule["id"]
    # Daily shifts from 2025-12-01 09:00: Ana, Ben, Ana, ...; office hours belong to Cy.
    assert who(api, sid, "2026-01-01T07:59:00Z") == (["Ana"], "primary")  # Thu 08:59
    assert who(api, sid, "2026-01-01T08:00:00Z") == (["Cy"], "office-hours")  # Thu 09:00
    assert who(api, sid, "2026-01-01T17:30:00Z") == (["Ben"], "primary")  # Thu 18:30
    assert who(api, sid, "2026-01-03T12:00:00+01:00") == (["Ben"], "primary")  # Saturday
    assert who(api, sid, "2026-01-05T17:00:00+01:00") == (["Ben"], "primary")
    # Sunday 2026-03-29: the 09:00 hand-off is at 07:00 UTC, not 08:00.
    before, after = who(api, sid, "2026-03-29T06:59:00Z"), who(api, sid, "2026-03-29T07:00:00Z")
    assert before[0] != after[0]
    assert after == who(api, sid, "2026-03-29T09:00:00+02:00")


def test_overrides_and_their_conflicts(api: Api) -> None:
    add_people(api)
    sid = create(api)["id"]
    cover = {
        "person": "dee@example.com",
        "starts_at": "2026-01-03T10:00:00Z",
        "ends_at": "2026-01-03T14:00:00Z",
        "note": "Ana's dentist",
    }
    response = api.client.post(f"{SCHEDULES}/{sid}/overrides", headers=api.responder, json=cover)
    assert response.status_code == 201, response.text
    override_id = response.json()["id"]
    assert who(api, sid, "2026-01-03T12:00:00Z") == (["Dee"], "override")
    again = api.client.post(
        f"{SCHEDULES}/{sid}/overrides",
        headers=api.responder,
        json={**cover, "starts_at": "2026-01-03T13:00:00Z", "ends_at": "2026-01-03T15:00:00Z"},
    )
    assert again.status_code == 409, again.text
    assert again.json()["error"]["details"]["field"] == "starts_at"
    swap = {**cover, "replaces": "ben@example.com", "starts_at": "2026-01-03T00:00:00Z"}
    assert (
        api.client.post(f"{SCHEDULES}/{sid}/overrides", headers=api.responder, json=swap)
    ).status_code == 201
    assert who(api, sid, "2026-01-03T09:00:00Z") == (["Dee"], "override")  # Ben's shift
    assert who(api, sid, "2026-01-03T07:00:00Z") == (["Ana"], "primary")  # Ana's: no swap
    listed = api.client.get(f"{SCHEDULES}/{sid}/overrides", headers=api.viewer).json()
    assert [o["note"] for o in listed] == ["Ana's dentist", "Ana's dentist"]
    assert listed[1]["replaces"] is None
    assert listed[0]["replaces"]["name"] == "Ben"
    viewer = api.client.delete(f"{SCHEDULES}/{sid}/overrides/{override_id}", headers=api.viewer)
    assert viewer.status_code == 403
    gone = api.client.delete(f"{SCHEDULES}/{sid}/overrides/{override_id}", headers=api.responder)
    assert gone.status_code == 204
    assert who(api, sid, "2026-01-03T12:00:00Z") == (["Dee"], "override")  # the swap
    assert who(api, sid, "2026-01-03T15:00:00Z") == (["Ben"], "primary")


def test_shifts_list_spans_and_gaps(api: Api) -> None:
    add_people(api)
    office_only = {
        "name": "office",
        "timezone": "Europe/Berlin",
        "layers": [DEVOPS["layers"][1]],  # type: ignore[index]
    }
    schedule = create(api, office_only)
    assert schedule["gaps"]  # nights and weekends: allowed, and shown
    assert schedule["gaps"][0] == {
        "start": "2026-01-01T16:00:00Z",
        "end": "2026-01-02T08:00:00Z",
        "people": [],
        "source": "",
    }
    response = api.client.get(
        f"{SCHEDULES}/{schedule['id']}/shifts",
        headers=api.viewer,
        params={"start": "2026-01-05T00:00:00Z", "end": "2026-01-06T00:00:00Z"},
    )
    assert response.status_code == 200, response.text
    spans = [
        (s["start"][11:16], s["end"][11:16], [p["name"] for p in s["people"]])
        for s in response.json()
    ]
    assert spans == [("00:00", "08:00", []), ("08:00", "16:00", ["Cy"]), ("16:00", "00:00", [])]
    too_long = api.client.get(
        f"{SCHEDULES}/{schedule['id']}/shifts",
        headers=api.viewer,
        params={"start": "2026-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"},
    )
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"]["field"] == "end"


def test_every_schedule_at_once_and_replacing_one(api: Api) -> None:
    add_people(api)
    sid = create(api)["id"]
    nightly = {
        **DEVOPS,
        "name": "dba",
        "layers": [{**DEVOPS["layers"][0], "participants": ["dee@example.com"]}],
    }  # type: ignore[index]
    create(api, nightly)
    everyone = api.client.get(
        "/api/v1/oncall", headers=api.viewer, params={"at": "2026-01-01T20:00:00Z"}
    )
    assert everyone.status_code == 200
    assert [(r["schedule"], [p["name"] for p in r["people"]]) for r in everyone.json()] == [
        ("dba", ["Dee"]),
        ("devops-lead", ["Ben"]),
    ]
    changed = {**DEVOPS, "layers": [{**DEVOPS["layers"][0], "participants": ["cy@example.com"]}]}  # type: ignore[index]
    response = api.client.put(f"{SCHEDULES}/{sid}", headers=api.admin, json=changed)
    assert response.status_code == 200, response.text
    assert who(api, sid, "2026-01-01T20:00:00Z") == (["Cy"], "primary")
    clash = api.client.put(f"{SCHEDULES}/{sid}", headers=api.admin, json={**changed, "name": "dba"})
    assert clash.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"layers": []}, "layers"),
        (
            {"layers": [{**DEVOPS["layers"][0], "participants": ["nobody@example.com"]}]},
            "layers[0].participants[0]",
        ),  # type: ignore[index]
        ({"layers": [{**DEVOPS["layers"][0], "participants": []}]}, "layers[0].participants"),  # type: ignore[index]
        ({"layers": [{**DEVOPS["layers"][0], "rotation": "monthly"}]}, "layers[0].rotation"),  # type: ignore[index]
        ({"layers": [{**DEVOPS["layers"][0], "handoff": "25:00"}]}, "layers[0].handoff"),  # type: ignore[index]
        ({"layers": [{**DEVOPS["layers"][0], "every": 0}]}, "layers[0].every"),  # type: ignore[index]
        ({"layers": [DEVOPS["layers"][0], DEVOPS["layers"][0]]}, "body"),  # type: ignore[index]
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_schedules_are_refused_and_nothing_is_written(
    api: Api, change: dict[str, Any], field: str
) -> None:
    add_people(api)
    response = api.client.post(SCHEDULES, headers=api.admin, json={**DEVOPS, **change})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == field
    assert api.client.get(SCHEDULES, headers=api.viewer).json() == []


def test_schedules_are_for_admins_and_times_need_an_offset(api: Api) -> None:
    add_people(api)
    denied = api.client.post(SCHEDULES, headers=api.responder, json=DEVOPS)
    assert denied.status_code == 403
    sid = create(api)["id"]
    naive = api.client.get(
        f"{SCHEDULES}/{sid}/oncall", headers=api.viewer, params={"at": "2026-01-01T09:00:00"}
    )
    assert naive.status_code == 422
    assert naive.json()["error"]["details"]["field"] == "at"
    assert api.client.get(f"{SCHEDULES}/999/oncall", headers=api.viewer).status_code == 404
    bad = {
        "person": "ana@example.com",
        "starts_at": "2026-01-02T00:00:00Z",
        "ends_at": "2026-01-01T00:00:00Z",
    }
    refused = api.client.post(f"{SCHEDULES}/{sid}/overrides", headers=api.responder, json=bad)
    assert refused.status_code == 422
    assert api.client.get(f"{SCHEDULES}/{sid}/overrides", headers=api.viewer).json() == []


SCHEDULE_YAML = """
name: security
timezone: America/New_York
layers:
  - name: week
    rotation: weekly
    handoff_day: mon
    handoff: "10:00"
    start: 2030-01-07
    participants: [ana@example.com, ben@example.com]
"""


def test_the_cli_creates_shows_overrides_and_answers_who(
    api: Api, cli: Cli, tmp_path: Path
) -> None:
    add_people(api)
    path = tmp_path / "security.yaml"
    path.write_text(SCHEDULE_YAML)
    created = cli("schedule", "create", str(path))
    assert created.code == 0, created.err
    assert "created schedule 1: security" in created.out
    assert "gap: nobody on call" in created.out  # the rotation starts in 2030
    who_at = cli("oncall", "who", "--schedule", "security", "--at", "2030-03-11T10:30-04:00")
    assert who_at.code == 0, who_at.err
    assert who_at.out.strip() == "security: Ben <ben@example.com>"  # week 9, EDT
    override = cli(
        "schedule", "override", "security", "--person", "cy@example.com",
        "--start", "2030-03-11T00:00Z", "--end", "2030-03-12T00:00Z",
    )  # fmt: skip
    assert override.code == 0, override.err
    assert "Cy" in cli("oncall", "who", "--at", "2030-03-11T12:00Z").out
    shown = cli(
        "schedule", "show", "security", "--start", "2030-03-11T00:00Z", "--days", "1", "--json"
    )
    assert shown.code == 0, shown.err
    assert '"source": "override"' in shown.out
    listed = cli("schedule", "list")
    assert listed.code == 0
    assert "security" in listed.out
    again = cli("schedule", "create", str(path))
    assert again.code != 0
    assert again.err.strip().startswith("error:")
    assert "security" in again.err
    naive = cli("oncall", "who", "--at", "2030-03-11T10:30")
    assert naive.code != 0
    assert "needs an offset" in naive.err
    unknown = cli("oncall", "who", "--schedule", "nope")
    assert unknown.code != 0
    assert "nope" in unknown.err


def _feed(api: Api, url: str) -> Any:
    from urllib.parse import urlsplit

    from icalendar import Calendar

    parts = urlsplit(url)
    response = api.client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def test_calendar_feeds_show_the_shifts_across_the_clock_change(api: Api, clock: FakeClock) -> None:
    ids = add_people(api)
    clock.set(datetime(2026, 3, 26, 12, tzinfo=UTC))  # Berlin goes to summer time on 03-29
    daily_only = {**DEVOPS, "layers": [DEVOPS["layers"][0]]}  # type: ignore[index]
    sid = create(api, daily_only)["id"]
    link = api.client.get(f"{SCHEDULES}/{sid}/calendar", headers=api.viewer).json()["url"]
    assert "/ical/schedules/" in link
    assert "token=" in link
    events = sorted(_feed(api, link).walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    by_start = {e.decoded("dtstart"): e for e in events}
    saturday = by_start[datetime(2026, 3, 28, 8, tzinfo=UTC)]  # 09:00 CET
    assert saturday.decoded("dtend") == datetime(2026, 3, 29, 7, tzinfo=UTC)  # 09:00 CEST
    sunday = by_start[datetime(2026, 3, 29, 7, tzinfo=UTC)]
    assert sunday.decoded("dtend") == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert {str(saturday["summary"]), str(sunday["summary"])} == {
        "On call: Ana (devops-lead)",
        "On call: Ben (devops-lead)",
    }
    assert len({str(e["uid"]) for e in events}) == len(events)
    first = min(by_start)
    assert first <= datetime(2026, 3, 19, 12, tzinfo=UTC) + timedelta(days=1)  # a week back
    person = api.client.get(f"/api/v1/people/{ids['ana']}/calendar", headers=api.viewer).json()
    ana = list(_feed(api, person["url"]).walk("VEVENT"))
    assert ana
    assert all(str(e["summary"]) == "On call: devops-lead" for e in ana)
    assert len(ana) * 2 in (len(events), len(events) + 1, len(events) - 1)  # every other day


def test_a_calendar_feed_needs_its_own_token(api: Api) -> None:
    ids = add_people(api)
    sid = create(api)["id"]
    link = api.client.get(f"{SCHEDULES}/{sid}/calendar", headers=api.viewer).json()["url"]
    token = link.split("token=")[1]
    for path in (
        f"/ical/schedules/{sid}.ics",
        f"/ical/schedules/{sid}.ics?token=wrong",
        f"/ical/people/{ids['ana']}.ics?token={token}",  # a schedule's token, not Ana's
        f"/ical/schedules/{sid + 1}.ics?token={token}",
    ):
        response = api.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["details"]["field"] == "token"
    assert api.client.get(f"{SCHEDULES}/{sid}/calendar").status_code == 401


def test_the_cli_prints_calendar_links_and_removes_overrides(
    api: Api, cli: Cli, tmp_path: Path
) -> None:
    add_people(api)
    sid = create(api)["id"]
    printed = cli("oncall", "calendar", "--schedule", "devops-lead")
    assert printed.code == 0, printed.err
    expected = api.client.get(f"{SCHEDULES}/{sid}/calendar", headers=api.viewer).json()["url"]
    assert printed.out.strip() == expected
    assert cli("oncall", "calendar").code != 0
    assert "exactly one" in cli("oncall", "calendar").err
    added = cli(
        "schedule", "override", "devops-lead", "--person", "dee@example.com",
        "--start", "2030-01-01T00:00Z", "--end", "2030-01-02T00:00Z",
    )  # fmt: skip
    assert added.code == 0, added.err
    override_id = added.out.split()[2]
    removed = cli("schedule", "unoverride", "devops-lead", override_id)
    assert removed.code == 0, removed.err
    assert api.client.get(f"{SCHEDULES}/{sid}/overrides", headers=api.viewer).json() == []
    missing = cli("schedule", "unoverride", "devops-lead", override_id)
    assert missing.code != 0
