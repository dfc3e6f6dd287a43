"""Settings come from the environment; the secret key is generated once and kept."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from warroom.runtime import build_runtime
from warroom.settings import Settings


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WARROOM_HOST", "127.0.0.2")
    monkeypatch.setenv("WARROOM_PORT", "9999")
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.2", 9999)
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path.as_posix()}/warroom.db"
    assert settings.resolved_base_url() == "http://127.0.0.2:9999"


def test_default_database_is_a_sqlite_file_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WARROOM_DATA_DIR", raising=False)
    monkeypatch.delenv("WARROOM_DATABASE_URL", raising=False)
    assert Settings().resolved_database_url() == "sqlite:///var/warroom.db"


def test_a_secret_key_is_generated_on_first_run_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/w.db")
    first = build_runtime(settings)
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 48
    assert build_runtime(settings).secret_key == first.secret_key


def test_a_given_secret_key_wins_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="s3cret-from-env",
        database_url=f"sqlite:///{tmp_path}/w.db",
    )
    assert build_runtime(settings).secret_key == "s3cret-from-env"
    assert not (tmp_path / "data" / "secret_key").exists()


def test_a_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_PORT", "70000")
    with pytest.raises(ValueError, match="port"):
        Settings()
