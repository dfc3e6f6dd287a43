"""External contacts through the API and the CLI, with YAML/CSV import and export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import Api, Cli

IR_FIRM = {
    "name": "Security incident response firm",
    "kind": "incident-response",
    "organisation": "Example Forensics",
    "phone": "+18005550100",
    "email": "Hotline@Example.com",
    "notes": "Retainer 42; ask for the duty lead",
}


def test_contacts_are_added_listed_filtered_replaced_and_removed(api: Api) -> None:
    admin_headers, viewer_headers = api.admin, api.viewer
    created = api.client.post("/api/v1/contacts", headers=admin_headers, json=IR_FIRM)
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["email"] == "hotline@example.com"
    legal = {"name": "Legal counsel", "kind": "legal", "url": "https://law.example.com"}
    assert api.client.post("/api/v1/contacts", headers=admin_headers, json=legal).status_code == 201

    listed = api.client.get("/api/v1/contacts", headers=viewer_headers).json()
    assert [c["kind"] for c in listed] == ["incident-response", "legal"]
    only = api.client.get("/api/v1/contacts?kind=legal", headers=viewer_headers).json()
    assert [c["name"] for c in only] == ["Legal counsel"]

    changed = {**IR_FIRM, "phone": "+442071234567"}
    path = f"/api/v1/contacts/{contact['id']}"
    assert (
        api.client.put(path, headers=admin_headers, json=changed).json()["phone"] == "+442071234567"
    )
    assert api.client.put(path, headers=viewer_headers, json=changed).status_code == 403
    assert api.client.delete(path, headers=admin_headers).status_code == 204
    assert api.client.get(path, headers=viewer_headers).status_code == 404


def test_bad_contacts_are_refused_naming_the_field(api: Api) -> None:
    admin_headers = api.admin
    assert (
        api.client.post("/api/v1/contacts", headers=admin_headers, json=IR_FIRM).status_code == 201
    )
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**IR_FIRM, "name": "PR", "phone": "+1-XXX-XXX-XXXX"}, 422, "phone"),
        ({**IR_FIRM, "name": "PR", "kind": "astrologer"}, 422, "kind"),
        ({**IR_FIRM, "name": "PR", "email": "nope"}, 422, "email"),
        ({"name": "PR", "kind": "pr"}, 422, "body"),  # no way to reach them
        (IR_FIRM, 409, "name"),
        ({**IR_FIRM, "name": "PR", "url": "javascript:alert(1)"}, 422, "url"),
    ]
    for body, status, field in cases:
        response = api.client.post("/api/v1/contacts", headers=admin_headers, json=body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["details"]["field"] == field, response.json()
    assert len(api.client.get("/api/v1/contacts", headers=admin_headers).json()) == 1


def test_the_cli_adds_lists_exports_and_imports_contacts(cli: Cli, tmp_path: Path) -> None:
    added = cli(
        "contacts", "add", "--name", "Hosting provider support", "--kind", "support",
        "--phone", "+18005550199", "--organisation", "Example Cloud",
    )  # fmt: skip
    assert added.code == 0, added.err
    listed = cli("contacts", "list")
    assert "Hosting provider support" in listed.out
    assert "+18005550199" in listed.out

    exported = cli("contacts", "export", "--format", "csv")
    assert exported.out.splitlines()[0] == "name,kind,organisation,phone,email,url,notes"
    yaml_out = cli("contacts", "export").out
    assert "Example Cloud" in yaml_out

    good = tmp_path / "contacts.yaml"
    good.write_text(
        "contacts:\n"
        "  - {name: PR agency, kind: pr, email: press@example.com}\n"
        "  - {name: Legal counsel, kind: legal, phone: '+4930123456'}\n"
    )
    assert cli("contacts", "import", str(good)).code == 0
    assert "PR agency" in cli("contacts", "list", "--kind", "pr").out

    bad = tmp_path / "bad.csv"
    bad.write_text("name,kind,phone\nRegulator,regulator,+49 30 123\nOther,other,+4930999\n")
    result = cli("contacts", "import", str(bad))
    assert result.code != 0
    assert "record 1: phone" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Other" not in cli("contacts", "list").out  # all or nothing
    again = cli("contacts", "import", str(good))
    assert again.code != 0
    assert "PR agency" in again.err
