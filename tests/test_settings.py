"""Settings: defaults, the TOML file, environment overrides, one clear line for a wrong value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import load_settings


def test_defaults_run_on_embedded_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.database_url == "sqlite:///var/intake.db"
    assert settings.smtp_listen == "127.0.0.1:2525"
    assert settings.http_listen == "127.0.0.1:8080"
    assert settings.relay_url is None
    assert settings.outbox_dir == Path("var/outbox")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.default_tier == "8x5"


def test_environment_wins_over_toml(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('service_addresses = ["help@a.example"]\nsmtp_listen = "127.0.0.1:2600"\n'
                      '[[imap]]\nname = "box"\nhost = "imap.a.example"\nuser = "u"\n', encoding="utf-8")
    settings = load_settings({"INTAKE_CONFIG": str(config), "INTAKE_SMTP_LISTEN": "0.0.0.0:25",
                              "INTAKE_SERVICE_ADDRESSES": "Service@B.example, help@b.example"})
    assert settings.smtp_bind == ("0.0.0.0", 25)
    assert settings.service_addresses == ["service@b.example", "help@b.example"]
    assert settings.service_address == "service@b.example"
    assert settings.imap[0].host == "imap.a.example"


def test_intake_toml_in_working_folder_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "intake.toml").write_text('timezone = "Asia/Taipei"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).timezone == "Asia/Taipei"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"INTAKE_SMTP_LISTEN": "nowhere"}, "INTAKE_SMTP_LISTEN: expected HOST:PORT, got 'nowhere'"),
        ({"INTAKE_HTTP_LISTEN": "127.0.0.1:99999"}, "INTAKE_HTTP_LISTEN: expected HOST:PORT"),
        ({"INTAKE_TIMEZONE": "Mars/Olympus"}, "INTAKE_TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ({"INTAKE_RELAY_URL": "http://relay"}, "INTAKE_RELAY_URL: expected smtp://"),
        ({"INTAKE_SERVICE_ADDRESSES": "not-an-address"}, "INTAKE_SERVICE_ADDRESSES: 'not-an-address' is not"),
        ({"INTAKE_DATABASE_URL": "intake.db"}, "INTAKE_DATABASE_URL: expected an SQLAlchemy URL"),
        ({"INTAKE_DEFAULT_TIER": "9x9"}, "INTAKE_DEFAULT_TIER: Input should be '24x7' or '8x5'"),
        ({"INTAKE_CONFIG": "/nonexistent/intake.toml"}, "INTAKE_CONFIG: no such file"),
    ],
)
def test_a_wrong_value_names_its_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_wrong_toml_key_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('max_message_bytes = -5\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^max_message_bytes: Input should be greater than 0"):
        load_settings({"INTAKE_CONFIG": str(config)})
