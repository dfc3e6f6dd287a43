"""Settings read from the environment (``WARROOM_*``), built once at the edge."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Every knob warroom reads; each is documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="WARROOM_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Where local state lives.")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in data_dir.")
    host: str = Field(default="127.0.0.1", description="Address `warroom serve` binds.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `warroom serve` binds.")
    playbook: Path | None = Field(default=None, description="Playbook YAML; default built-in.")
    secret_key: SecretStr | None = Field(default=None, description="Signing key; generated.")
    worker: bool = Field(default=True, description="Run the job worker inside `serve`.")
    worker_poll_seconds: float = Field(default=0.5, gt=0, description="Worker idle poll period.")
    base_url: str = Field(default="", description="Public URL of this server, for links.")
    channels_file: Path | None = Field(default=None, description="Channels YAML (webhooks).")
    access_log: bool = Field(default=False, description="Log every HTTP request `serve` answers.")

    def resolved_database_url(self) -> str:
        """The configured database URL, or the default SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'warroom.db').as_posix()}"

    def resolved_secret_key(self) -> str:
        """The secret key; generated and kept in data_dir on first use when not given."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        draft = self.data_dir / f".secret_key.{secrets.token_hex(8)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:  # atomic: of processes starting together, the first link wins for all
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        return path.read_text().strip()

    def resolved_base_url(self) -> str:
        """The public base URL, defaulting to the bound host and port."""
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"
