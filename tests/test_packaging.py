"""A non-editable install carries the templates and the default policy files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_wheel_carries_templates_and_policy(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel, = tmp_path.glob("intake-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for language in ("zh-Hans", "zh-Hant", "en"):
        for part in ("subject", "txt", "html"):
            assert f"pipeline/_templates/ack/{language}.{part}" in names
    assert {"pipeline/policy/service.toml", "pipeline/policy/triage.toml"} <= names
    assert "pipeline/store/migrations/env.py" in names
    assert any(n.startswith("pipeline/store/migrations/versions/0001") for n in names)
