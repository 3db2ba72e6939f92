"""One settings object, read from the environment (prefix ``CPTS_``).

Why one object: every layer (app, CLI, tests, benchmarks) must agree on the database and the
secrets folder; scattering ``os.environ`` reads would let them drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Mode(StrEnum):
    """Where this instance runs: the territory's server or a field laptop."""

    SERVER = "server"
    FIELD = "field"


class Settings(BaseSettings):
    """Configuration of one instance of the platform."""

    model_config = SettingsConfigDict(env_prefix="CPTS_", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data")
    database_url: str = ""
    """Any SQLAlchemy URL; empty means the embedded SQLite file ``<data_dir>/cpts.db``."""
    secrets_dir: Path = Field(default=PROJECT_ROOT / "secrets")
    """Keys live here, never in the repository nor in the database they protect."""
    mode: Mode = Mode.SERVER
    demo: bool = False
    """Demo mode: the sign-in page shows the demo credentials."""
    public_url: str = "http://localhost:3000"
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_lock_minutes: int = 15
    sas_api_token: SecretStr = SecretStr("")
    """Bearer token shared with the national SAS for GET /fhir/Slot; empty closes that API."""
    cookie_secure: bool = True
    """Chromium and Firefox accept Secure cookies on http://localhost, so this stays on in development."""
    smtp_host: str = ""
    """Mail server of the unread-message digest; empty: no digest is sent (``cpts digest`` says so)."""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_security: str = "starttls"
    """``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (local relay, tests)."""
    smtp_sender: str = "messagerie@cpts.invalid"
    attachment_max_bytes: int = 10 * 1024 * 1024
    """Largest attachment accepted (PDF or image); larger files are refused before being stored."""

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to the SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'cpts.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache after changing the environment)."""
    return Settings()
