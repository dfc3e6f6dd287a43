"""``warroom integration``, ``warroom alert`` and ``warroom silence`` on both backends,
with alerts sent over HTTP to the URLs the CLI printed."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import Api, Cli, CliResult
from tests.test_alerts_hooks import (
    TOKEN,
    alerts,
    am_alert,
    am_payload,
    capture,
    incidents,
    post_capture,
    stored,
    ts,
)
from warroom.clock import FakeClock

DB_DOWN = {"alertname": "DatabaseDown", "service": "db", "instance": "db-1", "severity": "critical"}


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, f"exit {result.code}\nout: {result.out}\nerr: {result.err}"
    assert "Traceback" not in result.err
    return result


def as_json(result: CliResult) -> Any:
    return json.loads(ok(result).out)


def assert_error(result: CliResult, code: int, *fragments: str) -> None:
    """A clean failure: the exit code and one ``error:`` line naming what is wrong."""
    assert result.code == code, f"exit {result.code}\nout: {result.out}\nerr: {result.err}"
    assert "Traceback" not in result.err + result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error:"), result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def printed_url(result: CliResult) -> str:
    found = re.search(r"^url: (\S+)$", ok(result).out, re.MULTILINE)
    assert found, result.out
    return found.group(1)


def key_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


# --- integrations ---------------------------------------------------------------------------


def test_integration_create_prints_the_url_to_post_to(cli: Cli, api: Api) -> None:
    result = cli("integration", "create", "--name", "prometheus-prod", "--kind", "alertmanager")
    assert ok(result).out.splitlines()[0] == "integration prometheus-prod (alertmanager)"
    url = printed_url(result)
    assert url.startswith("http://")
    path = urlsplit(url).path
    assert re.fullmatch(r"/hooks/alertmanager/[A-Za-z0-9_-]{20,}", path), path
    body = capture("alertmanager/webhook-firing-1.json")["body"]
    response = api.client.post(path, json=body)
    assert response.status_code == 202, response.text
    assert stored(api) == (2, 1)


def test_integration_create_for_events_v2_prints_the_routing_key(cli: Cli, api: Api) -> None:
    result = cli("integration", "create", "--name", "am-pagerduty", "--kind", "events-v2")
    assert urlsplit(printed_url(result)).path == "/v2/enqueue"
    found = re.search(r"^routing_key: (\S+)$", result.out, re.MULTILINE)
    assert found, result.out
    response = post_capture(api, "alertmanager/pagerduty-events-v2-trigger-2.json", found[1])
    assert response.status_code == 202, response.text
    assert stored(api) == (1, 1)


def test_integration_create_json_and_auth_token(cli: Cli, api: Api) -> None:
    made = as_json(
        cli(
            "integration",
            "create",
            "--name",
            "grafana",
            "--kind",
            "grafana",
            "--auth-token",
            TOKEN,
            "--json",
        )
    )
    assert (made["name"], made["kind"], made["requires_token"]) == ("grafana", "grafana", True)
    assert urlsplit(made["url"]).path == f"/hooks/grafana/{made['key']}"
    assert TOKEN not in json.dumps(made)
    response = post_capture(api, "grafana/webhook-firing.json", made["key"])
    assert response.status_code == 401, response.text
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = post_capture(api, "grafana/webhook-firing.json", made["key"], headers)
    assert response.status_code == 202, response.text


def test_integration_create_refuses_bad_input(cli: Cli) -> None:
    assert_error(cli("integration", "create", "--name", "x", "--kind", "nagios"), 2, "kind")
    assert_error(
        cli("integration", "create", "--name", "x", "--kind", "generic", "--auth-token", "short"),
        2,
        "auth_token",
    )
    ok(cli("integration", "create", "--name", "x", "--kind", "generic"))
    assert_error(cli("integration", "create", "--name", "x", "--kind", "grafana"), 4, "x")
    assert [i["name"] for i in as_json(cli("integration", "list", "--json"))] == ["x"]


def test_integration_list(cli: Cli) -> None:
    assert as_json(cli("integration", "list", "--json")) == []
    made = {
        kind: as_json(cli("integration", "create", "--name", f"{kind}-1", "--kind", kind, "--json"))
        for kind in ("alertmanager", "events-v2", "generic")
    }
    listed = as_json(cli("integration", "list", "--json"))
    assert [i["name"] for i in listed] == ["alertmanager-1", "events-v2-1", "generic-1"]
    for item in listed:
        expected = made[item["kind"]]
        assert (item["id"], item["key"], item["url"]) == (
            expected["id"],
            expected["key"],
            expected["url"],
        )
        assert item["requires_token"] is False
    table = ok(cli("integration", "list")).out
    for item in listed:
        assert item["name"] in table
        assert item["url"] in table


def test_integration_rotate_key(cli: Cli, api: Api) -> None:
    old = printed_url(cli("integration", "create", "--name", "prom", "--kind", "alertmanager"))
    new = printed_url(cli("integration", "rotate-key", "prom"))
    assert key_of(new) != key_of(old)
    body = capture("alertmanager/webhook-firing-1.json")["body"]
    response = api.client.post(urlsplit(old).path, json=body)
    assert response.status_code == 404, response.text
    assert stored(api) == (0, 0)
    response = api.client.post(urlsplit(new).path, json=body)
    assert response.status_code == 202, response.text
    [listed] = as_json(cli("integration", "list", "--json"))
    assert listed["url"] == new
    assert_error(cli("integration", "rotate-key", "nope"), 3, "nope")


def test_a_key_in_use_rotated_elsewhere_stops_working_at_once(cli: Cli, api: Api) -> None:
    """The server keeps the keys it has seen (on SQLite); a rotation committed by another
    runtime (the CLI) makes it read them again before its next request."""
    old = printed_url(cli("integration", "create", "--name", "prom", "--kind", "alertmanager"))
    body = capture("alertmanager/webhook-firing-1.json")["body"]
    for _ in range(2):  # the key known to the server now
        assert api.client.post(urlsplit(old).path, json=body).status_code == 202
    before = stored(api)
    new = printed_url(cli("integration", "rotate-key", "prom"))
    response = api.client.post(urlsplit(old).path, json=body)
    assert response.status_code == 404, response.text
    assert stored(api) == before
    assert api.client.post(urlsplit(new).path, json=body).status_code == 202


# --- alerts ---------------------------------------------------------------------------------


def test_alert_list_with_filters(cli: Cli, api: Api) -> None:
    prom = key_of(
        printed_url(cli("integration", "create", "--name", "prom", "--kind", "alertmanager"))
    )
    cron = key_of(printed_url(cli("integration", "create", "--name", "cron", "--kind", "generic")))
    db1, db2 = {**DB_DOWN, "instance": "db-1"}, {**DB_DOWN, "instance": "db-2"}
    for payload in (
        am_payload(am_alert(db1), am_alert(db2)),
        am_payload(am_alert(db2, status="resolved")),
    ):
        response = api.client.post(f"/hooks/alertmanager/{prom}", json=payload)
        assert response.status_code == 202, response.text
    response = api.client.post(f"/hooks/generic/{cron}", json={"summary": "Backup failed"})
    assert response.status_code == 202, response.text
    db_incident, backup_incident = (i["id"] for i in incidents(api))

    everything = as_json(cli("alert", "list", "--json"))
    assert everything["total"] == 3
    assert [a["id"] for a in everything["items"]] == [a["id"] for a in reversed(alerts(api))]
    firing = as_json(cli("alert", "list", "--status", "firing", "--json"))
    assert sorted(a["summary"] for a in firing["items"]) == ["Backup failed", "DatabaseDown db"]
    resolved = as_json(cli("alert", "list", "--status", "resolved", "--json"))
    assert [a["labels"]["instance"] for a in resolved["items"]] == ["db-2"]
    by_source = as_json(cli("alert", "list", "--integration", "cron", "--json"))
    assert [a["summary"] for a in by_source["items"]] == ["Backup failed"]
    by_incident = as_json(cli("alert", "list", "--incident", str(db_incident), "--json"))
    assert {a["incident_id"] for a in by_incident["items"]} == {db_incident}
    assert by_incident["total"] == 2
    assert as_json(cli("alert", "list", "--incident", str(backup_incident), "--json"))["total"] == 1
    both = as_json(cli("alert", "list", "--integration", "prom", "--status", "firing", "--json"))
    assert [a["labels"]["instance"] for a in both["items"]] == ["db-1"]
    page = as_json(cli("alert", "list", "--limit", "1", "--json"))
    assert (len(page["items"]), page["total"]) == (1, 3)

    table = ok(cli("alert", "list")).out
    assert "Backup failed" in table
    assert "DatabaseDown db" in table
    assert_error(cli("alert", "list", "--status", "open"), 2, "status")
    assert_error(cli("alert", "list", "--integration", "nope"), 3, "nope")


# --- silences -------------------------------------------------------------------------------


def test_silence_create_list_expire(cli: Cli, api: Api, clock: FakeClock) -> None:
    key = key_of(
        printed_url(cli("integration", "create", "--name", "prom", "--kind", "alertmanager"))
    )
    result = ok(
        cli(
            "silence",
            "create",
            "-m",
            "service=db",
            "-m",
            "env=~prod.*",
            "--duration",
            "2h",
            "--comment",
            "failover drill",
        )
    )
    found = re.fullmatch(r"silence (\d+) until .+\n", result.out)
    assert found, result.out
    silence_id = int(found[1])

    [made] = as_json(cli("silence", "list", "--json"))
    assert made["id"] == silence_id
    assert made["matchers"] == ["service=db", "env=~prod.*"]
    assert made["comment"] == "failover drill"
    assert made["created_by"] == "cli:tester"
    starts, ends = ts(made["starts_at"]), ts(made["ends_at"])
    assert starts is not None
    assert ends == starts + timedelta(hours=2)
    table = ok(cli("silence", "list")).out
    assert "service=db, env=~prod.*" in table
    assert "failover drill" in table

    # The server's clock inside the window: the alert is recorded, not paged.
    clock.set(starts + timedelta(minutes=1))
    prod = {**DB_DOWN, "env": "prod-eu"}
    response = api.client.post(
        f"/hooks/alertmanager/{key}?wait=true", json=am_payload(am_alert(prod))
    )
    assert response.status_code == 202, response.text
    assert response.json()["silenced"] == 1
    [row] = alerts(api)
    assert (row["silenced_by"], row["incident_id"]) == (silence_id, None)
    assert stored(api) == (1, 0)
    assert "(silenced)" in ok(cli("alert", "list")).out

    assert ok(cli("silence", "expire", str(silence_id))).out == f"silence {silence_id} ended\n"
    assert as_json(cli("silence", "list", "--json")) == []
    [ended] = as_json(cli("silence", "list", "--expired", "--json"))
    ended_at = ts(ended["ends_at"])
    assert ended_at is not None
    assert starts <= ended_at < ends

    # After it ended, a matching alert pages.
    clock.set(ended_at + timedelta(seconds=1))
    other = {**prod, "instance": "db-2"}
    response = api.client.post(
        f"/hooks/alertmanager/{key}?wait=true", json=am_payload(am_alert(other))
    )
    assert response.status_code == 202, response.text
    assert response.json()["silenced"] == 0
    assert len(incidents(api)) == 1


def test_silence_create_refuses_bad_matchers(cli: Cli) -> None:
    assert_error(
        cli("silence", "create", "-m", "service=db", "-m", "no matcher here"), 2, "matchers[1]"
    )
    assert_error(cli("silence", "create", "-m", "env=~(prod"), 2, "matchers[0]")
    assert_error(cli("silence", "create", "-m", "service=db", "--duration", "soon"), 2, "duration")
    assert as_json(cli("silence", "list", "--expired", "--json")) == []


def test_silence_expire_of_an_unknown_silence(cli: Cli) -> None:
    assert_error(cli("silence", "expire", "42"), 3, "42")
