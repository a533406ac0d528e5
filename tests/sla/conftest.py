"""Session fixtures: the shipped service policy and what sla builds from it."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.sla import deadlines, workdays
from tests.sla.helpers import SERVICE_TOML, SHANGHAI, load_toml


@pytest.fixture(scope="session")
def policy() -> dict[str, Any]:
    return load_toml(SERVICE_TOML)


@pytest.fixture(scope="session")
def calendar(policy: dict[str, Any]) -> workdays.WorkCalendar:
    return workdays.WorkCalendar.from_policy(policy)


@pytest.fixture(scope="session")
def service(policy: dict[str, Any]) -> deadlines.ServicePolicy:
    return deadlines.ServicePolicy.from_policy(policy, SHANGHAI)
