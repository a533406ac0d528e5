from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli.main import main
from tests.conftest import SERVICE

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `intake ...` in-process in a scratch folder; returns (exit code, stdout, stderr)."""
    for key in [k for k in __import__("os").environ if k.startswith("INTAKE_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INTAKE_SERVICE_ADDRESSES", SERVICE)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def as_json(out: str) -> Any:
    out = out.strip()
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return [json.loads(line) for line in out.splitlines()]


def as_lines(out: str) -> list[Any]:
    """Rows of a streamed listing (ingest, triage): one JSON array, one element per line."""
    value = as_json(out)
    return value if isinstance(value, list) else [value]
