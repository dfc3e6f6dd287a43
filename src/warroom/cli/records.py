"""Directory files: YAML or CSV records read (and checked, all or nothing) and written back."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

from warroom.cli.context import fail
from warroom.playbook.loader import yaml_problem

M = TypeVar("M", bound=BaseModel)


def parse(path: Path, key: str, model: type[M]) -> list[M]:
    """Every record of the file as ``model``; the first bad one fails the command."""
    found = []
    for i, record in enumerate(read(path, key), start=1):
        try:
            found.append(model.model_validate(record))
        except ValueError as exc:
            fail(f"{path}: record {i}: {first_error(exc)}")
    return found


def check_format(fmt: str) -> None:
    if fmt not in ("yaml", "csv"):
        fail(f"--format: {fmt!r} is not yaml or csv")


def write(rows: Sequence[dict[str, Any]], fields: Sequence[str], fmt: str, key: str) -> None:
    """Print the rows as YAML (under ``key``, empty values left out) or CSV."""
    if fmt == "yaml":
        kept = [{k: v for k, v in r.items() if v} for r in rows]
        sys.stdout.write(yaml.safe_dump({key: kept}, sort_keys=False, allow_unicode=True))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: v or "" for k, v in r.items()} for r in rows)


def first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return f"{field}: {str(first['msg']).removeprefix('Value error, ')}"
    return str(exc)


def read(path: Path, key: str) -> list[dict[str, Any]]:
    """The records of a YAML (a list, or a mapping with a ``key`` list) or CSV file."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")
    if path.suffix.lower() == ".csv":
        rows = csv.DictReader(io.StringIO(text))
        return [
            {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()} for row in rows
        ]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        fail(f"{path}: {yaml_problem(exc)}")
    if isinstance(data, dict) and isinstance(data.get(key), list):
        data = data[key]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        fail(f"{path}: expected a list of {key} (or a mapping with a '{key}' list)")
    return data
