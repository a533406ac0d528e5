"""What the scheduler promises besides the deadlines: who is reminded, when, and which visits recur.

Reads the policy's [scheduler], [followup] and [contracts] tables (pipeline/policy/service.toml) into
typed rules; a bad value raises ConfigError naming its key. Pure: plain data in, plain data out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

from pipeline.errors import ConfigError
from pipeline.sla import clock, cutoff

PERIOD_MONTHS = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}
VISIT_KINDS = ("inspection", "training")


@dataclass(frozen=True)
class VisitRule:
    """One [[followup.visits]] table: a visit that recurs every period for the customers it names."""

    kind: str  # inspection | training
    months: int  # length of the period
    tiers: frozenset[str]
    contract_clause: str | None  # None: every customer of the tiers
    prepare_days: int  # working days before the visit: the engineer prepares it
    notify_customer_days: int  # working days before the visit: the customer's invitation
    on_workday: int  # the n-th working day of the period's first month


@dataclass(frozen=True)
class SchedulerRules:
    engineer_email: str | None
    engineer_phone: str | None
    manager_email: str | None
    staff_language: str
    customer_language: str
    callback_lead: timedelta
    callback_notice: bool
    catch_up: timedelta
    revisit_after_workdays: int
    revisit_onsite_levels: frozenset[int]
    visit_time: time
    visit_length: timedelta
    survey_days: tuple[int, int]  # first and last working day of the month the survey may go out
    visits: tuple[VisitRule, ...]
    contracts: Mapping[str, frozenset[str]]

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> SchedulerRules:
        table = _table(policy, "scheduler")
        followup = _table(policy, "followup")
        survey = followup.get("survey_day_range", [1, 5])
        if (not isinstance(survey, list) or len(survey) != 2 or not all(_is_count(v, 1) for v in survey)
                or survey[0] > survey[1]):
            raise ConfigError(f"followup.survey_day_range: {survey!r} must be [first, last] working days, e.g. [1, 5]")
        levels = followup.get("revisit_onsite_levels", [])
        if not isinstance(levels, list) or not all(_is_count(v, 1) for v in levels):
            raise ConfigError(f"followup.revisit_onsite_levels: {levels!r} must be a list of levels, e.g. [1]")
        visits = followup.get("visits", [])
        if not isinstance(visits, list):
            raise ConfigError("followup.visits: expected [[followup.visits]] tables")
        contracts = _table(policy, "contracts")
        return cls(
            engineer_email=_text(table, "engineer_email", "scheduler") or None,
            engineer_phone=_text(table, "engineer_phone", "scheduler") or None,
            manager_email=_text(table, "manager_email", "scheduler") or None,
            staff_language=_text(table, "staff_language", "scheduler") or "zh-Hans",
            customer_language=_text(table, "customer_language", "scheduler") or "zh-Hans",
            callback_lead=clock.parse_length(table.get("callback_reminder_before", "10m"),
                                             "scheduler.callback_reminder_before"),
            callback_notice=bool(table.get("callback_notice", True)),
            catch_up=clock.parse_length(table.get("catch_up", "3d"), "scheduler.catch_up"),
            revisit_after_workdays=cutoff.revisit_after_workdays(dict(policy)),
            revisit_onsite_levels=frozenset(levels),
            visit_time=_time(followup.get("visit_time", "10:00"), "followup.visit_time"),
            visit_length=clock.parse_length(followup.get("visit_length", "2h"), "followup.visit_length"),
            survey_days=(survey[0], survey[1]),
            visits=tuple(_visit(rule, f"followup.visits[{i}]") for i, rule in enumerate(visits)),
            contracts={str(name): frozenset(_clauses(value, f"contracts.{name}")) for name, value in contracts.items()},
        )

    def has_clause(self, customer_name: str, clause: str | None) -> bool:
        return clause is None or clause in self.contracts.get(customer_name, frozenset())


def _visit(table: Any, key: str) -> VisitRule:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{key}: expected a table with kind, every, tiers")
    kind = table.get("kind")
    if kind not in VISIT_KINDS:
        raise ConfigError(f"{key}.kind: {kind!r} must be one of {VISIT_KINDS}")
    every = table.get("every")
    if every not in PERIOD_MONTHS:
        raise ConfigError(f"{key}.every: {every!r} must be one of {tuple(PERIOD_MONTHS)}")
    tiers = table.get("tiers", [])
    if not isinstance(tiers, list) or not tiers or not all(isinstance(t, str) for t in tiers):
        raise ConfigError(f'{key}.tiers: expected a list of tiers, e.g. ["24x7"]')
    counts = {}
    for name, default, least in (("prepare_days", 5, 0), ("notify_customer_days", 5, 0), ("on_workday", 1, 1)):
        value = table.get(name, default)
        if not _is_count(value, least):
            raise ConfigError(f"{key}.{name}: {value!r} must be a whole number >= {least}")
        counts[name] = value
    clause = table.get("contract_clause")
    if clause is not None and not isinstance(clause, str):
        raise ConfigError(f"{key}.contract_clause: {clause!r} must be a word such as \"training\"")
    return VisitRule(kind, PERIOD_MONTHS[every], frozenset(tiers), clause, **counts)


def _table(policy: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = policy.get(name, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"{name}: expected a table [{name}]")
    return table


def _text(table: Mapping[str, Any], name: str, section: str) -> str:
    value = table.get(name, "")
    if not isinstance(value, str):
        raise ConfigError(f"{section}.{name}: {value!r} must be a string")
    return value.strip()


def _clauses(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{key}: expected a list of clauses, e.g. ["training"]')
    return value


def _is_count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _time(value: Any, key: str) -> time:
    try:
        return clock.parse_time(value, key)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
