"""A timeline entry's hash covers its canonical JSON, which must stay byte for byte what
``json.dumps`` (sorted keys, no spaces, UTF-8) gives: entries hashed before must verify."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.incidents.timeline import canonical

TEXT = st.text()
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # any size: wider than 64 bits is json's
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=25,
)


def reference(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=500)
@given(st.dictionaries(TEXT, VALUES, max_size=6))
def test_the_canonical_json_is_json_dumps(data: dict[str, Any]) -> None:
    body = {"incident_id": 7, "seq": 3, "at": "2026-12-07T06:00:00+00:00", "kind": "k"}
    body["data"] = data
    assert canonical(body) == reference(body)


def test_every_character_is_written_as_json_writes_it() -> None:
    for code in [*range(0x800), 0x2028, 0x2029, 0xFEFF, 0xFFFF, 0x1F600, 0x10FFFF]:
        body = {"data": {chr(code): chr(code) + "x"}}
        assert canonical(body) == reference(body), hex(code)


def test_what_json_cannot_encode_fails_as_before() -> None:
    body = {"data": {"summary": "\ud800"}}  # a lone surrogate
    with pytest.raises(UnicodeEncodeError):
        reference(body)
    with pytest.raises(UnicodeEncodeError):
        canonical(body)


def test_integer_keys_and_floats_are_json_s() -> None:
    body = {"data": {"2": 1e16, "3": 2**64, "x": [0.1, True, None]}, "keys": {1: "one", 2: 0.5}}
    assert canonical(body) == reference(body)
