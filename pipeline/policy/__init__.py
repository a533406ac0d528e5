"""The service policy: shipped defaults (TOML files beside this module) merged with the config's overrides.

The policy is plain data (nested dicts); each pure module reads its own section into typed rules:
`triage.severity` reads [severity], `triage.automatic` reads [automatic], `sla.deadlines` reads [tiers],
[levels] and [business_hours], `sla.workdays` reads [calendar].
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

DEFAULT_FILES = ("triage.toml", "service.toml")
HERE = Path(__file__).parent


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge: tables merge key by key, anything else (lists included) is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@cache
def _defaults() -> dict[str, Any]:
    policy: dict[str, Any] = {}
    for name in DEFAULT_FILES:
        with (HERE / name).open("rb") as handle:
            policy = merge(policy, tomllib.load(handle))
    return policy


def load_policy(overrides: dict[str, Any] | None = None, policy_file: Path | None = None) -> dict[str, Any]:
    """Defaults, then a whole policy file (if named), then the config's [policy] table."""
    policy = _defaults()
    if policy_file is not None:
        try:
            with Path(policy_file).open("rb") as handle:
                policy = merge(policy, tomllib.load(handle))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"policy_file: cannot read {policy_file} ({exc})") from exc
    return merge(policy, overrides or {})
