"""Fixtures shared with the SLA and CLI tests: the shipped policy (tests/sla) and `intake` in-process."""

from tests.cli.conftest import cli
from tests.sla.conftest import calendar, policy, service

__all__ = ["calendar", "cli", "policy", "service"]
