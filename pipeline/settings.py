"""The one typed Settings object: a TOML file (INTAKE_CONFIG, default ./intake.toml) under INTAKE_* variables.

Built once in the CLI's main() and passed down; the pure core never reads it.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import ConfigError

ENV_PREFIX = "INTAKE_"


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def parse_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:2525' -> ('127.0.0.1', 2525); '[::1]:25' works too."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class ImapMailbox(BaseModel):
    """One `[[imap]]` table: a mailbox the poller watches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    host: str
    port: int = 993
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    user: str
    password: str | None = None
    password_file: Path | None = None
    oauth2_token_command: str | None = None
    folder: str = "INBOX"
    after_import: Literal["flag", "move", "none"] = "flag"
    keyword: str = "$Intake"
    move_to: str = "Processed"
    idle: bool = True
    poll_interval_s: float = 60.0
    idle_renew_s: float = 540.0
    batch_size: int = 100
    timeout_s: float = 60.0


class SmtpOptions(BaseModel):
    """`[smtp]`: what a real MTA in front of the receiver needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_starttls: bool = False
    auth_users_file: Path | None = None  # lines "user:password"
    lmtp: bool = False
    max_connections_per_client: int = 20
    max_messages_per_client_per_minute: int = 600
    hostname: str | None = None


class Settings(BaseModel):
    """Every setting of intake. Environment variables (INTAKE_<KEY>) win over the TOML file's keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = "sqlite:///var/intake.db"
    service_addresses: list[str] = Field(default_factory=lambda: ["service@support.example"])
    smtp_listen: str = "127.0.0.1:2525"
    http_listen: str = "127.0.0.1:8080"
    relay_url: str | None = None
    outbox_dir: Path = Path("var/outbox")
    spool_dir: Path = Path("var/spool")
    timezone: str = "Asia/Shanghai"
    default_tier: Literal["24x7", "8x5"] = "8x5"
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    template_dir: Path | None = None
    staff_domains: list[str] = Field(default_factory=list)
    ack_rate_limit_per_hour: int = Field(default=5, ge=0)
    ticket_prefix: str = "SR"
    worker_id: str | None = None
    job_lease_s: float = Field(default=120.0, gt=0)
    scheduler_interval_s: float = Field(default=1.0, gt=0)
    public_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_number: str | None = None
    twilio_api_base: str | None = None
    imap: list[ImapMailbox] = Field(default_factory=list)
    smtp: SmtpOptions = Field(default_factory=SmtpOptions)
    hotline: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] = Field(default_factory=dict)
    policy_file: Path | None = None

    @field_validator("service_addresses", "staff_domains", mode="before")
    @classmethod
    def _commas(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("service_addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one service address is needed")
        for address in value:
            if address.count("@") != 1 or not address.split("@")[1]:
                raise ValueError(f"{address!r} is not an e-mail address")
        return [address.lower() for address in value]

    @field_validator("smtp_listen", "http_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("relay_url")
    @classmethod
    def _relay(cls, value: str | None) -> str | None:
        if value and not value.startswith(("smtp://", "smtps://")):
            raise ValueError("expected smtp://[user:password@]host[:port] or smtps://...")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("expected an SQLAlchemy URL such as sqlite:///var/intake.db")
        return value

    # Derived values: computed from the fields, never stored twice.
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def service_address(self) -> str:
        return self.service_addresses[0]

    @property
    def service_domains(self) -> frozenset[str]:
        return frozenset(address.split("@")[1] for address in self.service_addresses)

    @property
    def smtp_bind(self) -> tuple[str, int]:
        return parse_listen(self.smtp_listen)

    @property
    def http_bind(self) -> tuple[str, int]:
        return parse_listen(self.http_listen)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _config_path(environ: dict[str, str]) -> Path | None:
    named = environ.get("INTAKE_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"INTAKE_CONFIG: no such file {named}")
        return path
    default = Path("intake.toml")
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def _from_environment(environ: dict[str, str]) -> dict[str, Any]:
    """INTAKE_<KEY> values for the Settings fields; tables may be given as JSON."""
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if field.annotation is not None and str(field.annotation).startswith(("list[pipeline", "dict")):
            try:
                values[name] = json.loads(raw)
            except json.JSONDecodeError:
                values[name] = raw
        else:
            values[name] = raw
    return values


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the TOML file and the environment; raise ConfigError naming the first wrong key."""
    environ = dict(os.environ if environ is None else environ)
    path = _config_path(environ)
    values = _read_toml(path) if path else {}
    from_env = _from_environment(environ)
    values.update(from_env)
    values.update(overrides)
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = tuple(error.get("loc", ())) or ("?",)
        top = str(location[0])
        key = ENV_PREFIX + top.upper() if top in from_env else ".".join(str(part) for part in location)
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigError(f"{key}: {message}") from None
