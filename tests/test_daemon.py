"""`intake serve` as its users meet it: where it listens, what it says when it cannot, how its log reads."""

from __future__ import annotations

import re
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SERVICE
from tests.mailmaker import make_mail
from tests.serving import ServeProcess, wait_for

LOCAL_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as other:
        yield other.getsockname()[1]


@pytest.mark.parametrize("setting", ["INTAKE_SMTP_LISTEN", "INTAKE_HTTP_LISTEN"])
def test_a_taken_port_stops_start_up_in_one_line(tmp_path: Path, taken_port: int, setting: str) -> None:
    serve = ServeProcess(tmp_path, **{setting: f"127.0.0.1:{taken_port}"})
    done = subprocess.run([sys.executable, "-m", "pipeline", "serve"], cwd=tmp_path, env=serve.env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (4, "")  # README: 4, the environment is unavailable
    assert done.stderr == f"intake: cannot listen on 127.0.0.1:{taken_port} ({setting}): address already in use\n"
    assert not (tmp_path / "intake.db").exists()  # nothing started: not even the database was opened


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path_factory.mktemp("serve")) as proc:
        yield proc


def test_says_where_it_listens_once_both_do(served: ServeProcess) -> None:
    lines = served.log().splitlines()
    said = f"intake: SMTP on 127.0.0.1:{served.smtp_port}, HTTP on 127.0.0.1:{served.http_port}"
    assert lines.count(said) == 1
    ours = [line for line in lines if " pipeline." in line]  # uvicorn's loggers have a format of their own
    assert ours and all(re.match(LOCAL_TIME + r" [A-Z]+ pipeline\.", line) for line in ours), ours


def test_each_raw_input_is_logged_without_empty_fields(served: ServeProcess) -> None:
    with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=10) as client:
        client.sendmail("ann@mill.example.com", [SERVICE],
                        make_mail("Out of office", "I am away.", headers={"Auto-Submitted": "auto-replied"}))
        client.sendmail("ann@mill.example.com", [SERVICE], make_mail("Board down", "Board 3 is down."))
    def raw_lines() -> list[str]:
        return [line.split(" pipeline.daemon: ", 1)[1] for line in served.log().splitlines()
                if " pipeline.daemon: raw " in line]

    logged = wait_for(lambda: len(raw_lines()) == 2 and raw_lines())
    assert [re.sub(r"^raw \d+", "raw N", line) for line in logged] == [
        "raw N: suppressed (auto-reply: Auto-Submitted: auto-replied)", "raw N: created SR-000001"]


