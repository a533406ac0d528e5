"""`intake` itself: one exit-code scheme for every command (README "Commands"), and how log lines look."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.cli.conftest import Run
from tests.serving import free_port

CUSTOMERS = ("name,emails,domains,phones,tier,manager_email,timezone\n"
             "Mill Co,ann@mill.example.com,,,8x5,,\n"
             "Broken,,,,9x9,,\n")


def test_rejected_rows_exit_1_after_the_rest_is_imported(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    code, out, err = cli("customers", "import", str(tmp_path / "customers.csv"))
    assert (code, err.count("\n")) == (1, 1) and "line 3" in err and "imported 1" in out


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("ingest", "/nonexistent"), 2, "intake: no such file or folder: /nonexistent"),
        (("customers", "import", "/nonexistent.csv"), 2, "intake: cannot read /nonexistent.csv: "),
        (("calendar", "is-workday", "someday"), 2, "intake: not a date: 'someday'"),
        (("tickets", "show", "SR-999999"), 3, "intake: no ticket SR-999999"),
        (("quarantine", "retry", "999"), 3, "intake: no quarantined item 999"),
    ],
)
def test_exit_codes(cli: Run, args: tuple[str, ...], code: int, error: str) -> None:
    got, out, err = cli(*args)
    assert (got, out, err.count("\n"), err.startswith(error)) == (code, "", 1, True), err


def test_a_wrong_option_exits_2_as_argparse_does(cli: Run) -> None:
    with pytest.raises(SystemExit) as exited:
        cli("tickets", "list", "--since", "yesterday")
    assert exited.value.code == 2


def test_an_unreachable_database_exits_4_in_one_line(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    code, out, err = cli("tickets", "list")
    assert (code, out, err.count("\n")) == (4, "", 1)
    assert err.startswith("intake: the database is unavailable (INTAKE_DATABASE_URL): connection failed")


@pytest.fixture
def shanghai_host() -> Iterator[None]:
    """The host's own time zone (TZ), which log lines use."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_log_lines_carry_local_time_with_its_offset(shanghai_host: None) -> None:
    record = logging.LogRecord("pipeline.daemon", logging.INFO, __file__, 1, "raw %s: %s", (3, "created SR-000001"),
                               None)
    record.created = 1772442902.431  # 2026-03-02T09:15:02.431Z
    line = main.LocalTimeFormatter(main.LOG_FORMAT).format(record)
    assert line == "2026-03-02T17:15:02.431+08:00 INFO pipeline.daemon: raw 3: created SR-000001"


def test_a_cli_run_on_an_estimated_year_does_not_warn(cli: Run, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.sla.workdays")
    for _ in range(2):
        assert cli("calendar", "next-workday", "2027-02-05")[0] == 0
    told = [r for r in caplog.records if r.name == "pipeline.sla.workdays"]
    # once per process (none when an earlier test of this process already used 2027), never a warning
    assert len(told) <= 1 and all(r.levelno == logging.INFO and "[policy.calendar]" in r.getMessage() for r in told)
