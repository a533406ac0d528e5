"""Plain helpers for the SLA tests."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
SERVICE_TOML = ROOT / "pipeline" / "policy" / "service.toml"
EXAMPLES = ROOT / "examples"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    """'2026-02-13 17:30' -> that wall time in Asia/Shanghai (an offset in the text wins)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


def load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)
