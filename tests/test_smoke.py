"""A first end-to-end pass through the API and the CLI on both backends."""

from __future__ import annotations

from tests.conftest import Api, Cli


def test_declare_and_read_back_over_api(api: Api) -> None:
    response = api.client.post(
        "/api/v1/incidents",
        headers=api.responder,
        json={"title": "Checkout down", "severity": "P0"},
    )
    assert response.status_code == 201, response.text
    incident = response.json()
    assert incident["status"] == "triggered"
    assert [p["key"] for p in incident["phases"]] == [
        "p0-immediate-response",
        "p0-assessment",
        "p0-recovery",
    ]
    got = api.client.get(f"/api/v1/incidents/{incident['id']}", headers=api.viewer)
    assert got.json()["title"] == "Checkout down"


def test_declare_over_cli(cli: Cli) -> None:
    result = cli("incident", "declare", "--title", "Disk full", "--severity", "P2", "--json")
    assert result.code == 0, result.err
    assert '"severity": "P2"' in result.out
