"""The one typed Settings object: a TOML file (INTAKE_CONFIG, default ./intake.toml) under INTAKE_* variables.

Built once in the CLI's main() and passed down; the pure core never reads it.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    ca_file: Path | None = None  # PEM CA(s) the server certificate must chain to; None: the system's CAs
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
    lease_s: float = 30.0  # another process takes the mailbox over this long after its holder died


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


class VoicePrompt(BaseModel):
    """`[hotline.prompts.<language>]`: how the hotline speaks one language (Twilio <Say>)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    say_language: str  # <Say language>: "zh-CN" (Mandarin), "en-US", "zh-HK", "cmn-CN" with Polly voices
    voice: str | None = None  # "alice", "Polly.Zhiyu", "Google.cmn-CN-Standard-A"; None: Twilio's default
    digit: str | None = None  # the key that picks this language in the greeting
    greeting: str
    choose: str = ""  # e.g. "普通话请按1。"
    connecting: str
    voicemail: str
    goodbye: str


HOTLINE_PROMPTS: dict[str, dict[str, Any]] = {
    "zh-Hans": dict(say_language="zh-CN", voice="alice", digit="1", greeting="您好，这里是技术支持热线。",
                    choose="普通话请按1。", connecting="正在为您转接值班工程师，请稍候。",
                    voicemail="工程师暂时无法接听。请在提示音后留下您的姓名、单位和故障情况，按井号键结束。",
                    goodbye="谢谢，我们会尽快给您回电。再见。"),
    "en": dict(say_language="en-US", voice="alice", digit="2", greeting="Hello, this is technical support.",
               choose="For English, press 2.", connecting="Connecting you to the engineer on call. Please hold.",
               voicemail="Our engineers cannot take your call right now. Please leave your name, company and "
                         "the fault after the tone, then press the hash key.",
               goodbye="Thank you. We will call you back soon. Goodbye."),
}


class HotlineOptions(BaseModel):
    """`[hotline]`: how the Twilio hotline answers, routes, records and follows up calls (README)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompts: dict[str, VoicePrompt] = Field(default_factory=dict, validate_default=True)  # over HOTLINE_PROMPTS
    default_language: str = "zh-Hans"
    gather_timeout_s: int = Field(default=4, ge=1, le=30)
    on_call: list[str] = Field(default_factory=list)  # E.164 numbers, dialled together
    after_hours_on_call: list[str] | None = None  # outside business hours; None: the on_call numbers
    after_hours_tiers: list[str] = Field(default_factory=lambda: ["24x7"])  # put through at night
    dial_timeout_s: int = Field(default=20, ge=5, le=600)
    record_max_length_s: int = Field(default=120, ge=5, le=3600)
    record_timeout_s: int = Field(default=5, ge=1, le=60)  # silence that ends a voicemail
    transcribe: bool = True  # Twilio's transcription, asked for English voicemails only
    sms_enabled: bool = True  # SMS to callers after a missed call (needs twilio_number)
    sms_delay_s: int = Field(default=60, ge=0)  # a late report that someone answered can still cancel it
    default_severity: int = Field(default=2, ge=1, le=4)
    callback_limits: dict[str, str] = Field(default_factory=dict)  # tier -> "10m": over the policy's
    callback_notify: list[str] = Field(default_factory=list)  # numbers (SMS) or e-mail; default on_call
    callback_remind_before_s: int = Field(default=300, ge=0)
    max_body_bytes: int = Field(default=16384, ge=1024)
    stt_backend: Literal["none", "pocketsphinx", "faster-whisper"] = "none"
    stt_model_dir: Path | None = None  # faster-whisper model folder; never downloaded at run time
    recordings_dir: Path = Path("var/recordings")

    @field_validator("prompts", mode="before")
    @classmethod
    def _merge_prompts(cls, value: Any) -> Any:
        merged = {lang: dict(prompt) for lang, prompt in HOTLINE_PROMPTS.items()}
        for lang, prompt in (value or {}).items():
            merged[lang] = {**merged.get(lang, {}), **(prompt if isinstance(prompt, dict) else dict(prompt))}
        return merged

    @field_validator("on_call", "after_hours_on_call", "callback_notify", mode="before")
    @classmethod
    def _number_lists(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("on_call", "after_hours_on_call")
    @classmethod
    def _e164(cls, value: list[str] | None) -> list[str] | None:
        for number in value or []:
            if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
                raise ValueError(f"{number!r} is not an E.164 number such as +8613800138000")
        return value

    @model_validator(mode="after")
    def _languages(self) -> HotlineOptions:
        if self.default_language not in self.prompts:
            raise ValueError(f"default_language {self.default_language!r} has no prompts")
        digits = [p.digit for p in self.prompts.values() if p.digit]
        if len(digits) != len(set(digits)):
            raise ValueError(f"two languages share a key: {digits}")
        return self


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
    scheduler_interval_s: float = Field(default=1.0, gt=0)  # how often due jobs are run
    plan_interval_s: float = Field(default=2.0, gt=0)  # how often owed jobs are planned (small passes)
    public_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_number: str | None = None
    twilio_api_base: str | None = None
    imap: list[ImapMailbox] = Field(default_factory=list)
    smtp: SmtpOptions = Field(default_factory=SmtpOptions)
    hotline: HotlineOptions = Field(default_factory=HotlineOptions)
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
        annotation = field.annotation
        is_table = isinstance(annotation, type) and issubclass(annotation, BaseModel)  # [smtp], [hotline]
        if is_table or str(annotation).startswith(("list[pipeline", "dict")):
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
