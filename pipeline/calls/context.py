"""The plain values the hotline's write side needs, built once per process from the Runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline import render, triage
from pipeline.errors import ConfigError
from pipeline.settings import HotlineOptions
from pipeline.sla import deadlines as sla
from pipeline.sla import workdays
from pipeline.tickets import service

if TYPE_CHECKING:
    from pipeline.runtime import Runtime


@dataclass(frozen=True)
class Context:
    tickets: service.Context
    options: HotlineOptions
    callback_policy: sla.ServicePolicy  # the service policy with [hotline] callback_limits over it
    calendar: workdays.WorkCalendar
    triage_rules: triage.TriageRules
    templates: render.Templates
    sms_from: str | None  # our Twilio number; None: no SMS can go out
    remind_language: str  # the engineers' language for callback reminders

    @classmethod
    def from_runtime(cls, rt: Runtime) -> Context:
        options = rt.settings.hotline
        policy = rt.service_policy
        if options.callback_limits:
            tiers = {tier: {"callback_limit": limit} for tier, limit in options.callback_limits.items()}
            unknown = sorted(set(tiers) - set(policy.tiers))
            if unknown:
                raise ConfigError(
                    f"hotline.callback_limits: unknown tiers {unknown} (policy has {sorted(policy.tiers)})")
            policy = policy.with_overrides({"tiers": tiers})
        return cls(
            tickets=service.context(rt),
            options=options,
            callback_policy=policy,
            calendar=rt.calendar,
            triage_rules=rt.triage_rules,
            templates=rt.templates,
            sms_from=rt.settings.twilio_number,
            remind_language=options.default_language,
        )
