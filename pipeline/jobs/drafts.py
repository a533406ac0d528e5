"""How an owed job becomes a row: its recipient, language and zone, its letter, its payload.

Shared by the planner (pipeline.jobs.scheduler), which drafts jobs ahead of time, and the handlers
(pipeline.jobs.handlers), which check just before sending that a job is still owed and render
escalations again so they say how late they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from pipeline.calls import state
from pipeline.jobs import letters, owed, sync
from pipeline.jobs.rules import SchedulerRules
from pipeline.runtime import Runtime
from pipeline.settings import Settings
from pipeline.store import models, queries
from pipeline.tickets import acks

ENGINEER, MANAGER, CUSTOMER = "engineer", "manager", "customer"
TICKET_KINDS = ("sla_warning", "sla_escalation", "escalation", "revisit", "revisit_reminder", "visit_invitation")
CALL_KINDS = ("callback_reminder", "callback_notice")
VISIT_KINDS = ("inspection", "inspection_prepare", "training", "training_prepare", "visit_invitation")
SURVEY = "survey"
KINDS = tuple(sorted({*TICKET_KINDS, *CALL_KINDS, *VISIT_KINDS, SURVEY}))
RERENDERED = ("sla_escalation", "escalation")  # they say how late they are: rendered again when sent
ANSWERED_SINCE = "answered since: a later call from the same number on the ticket was taken"


def rules_of(rt: Runtime) -> SchedulerRules:
    """The scheduler's rules, read once per Runtime (like its other policy-derived values)."""
    cached = vars(rt).get("_scheduler_rules")
    if cached is None:
        cached = vars(rt)["_scheduler_rules"] = SchedulerRules.from_policy(rt.policy)
    return cached


def sms_enabled(settings: Settings) -> bool:
    """SMS needs a Twilio account and number, and the hotline's SMS switch on (when it has one)."""
    hotline = getattr(settings, "hotline", None)
    return bool(settings.twilio_account_sid and settings.twilio_number and getattr(hotline, "sms_enabled", True))


def notice_delay(settings: Settings) -> timedelta:
    """How long after a missed call ends its caller's notice waits (hotline.sms_delay_s): a late report
    that someone answered can still cancel it."""
    hotline = getattr(settings, "hotline", None)
    return timedelta(seconds=getattr(hotline, "sms_delay_s", 0))


def ticket_facts(ticket: models.Ticket) -> owed.TicketFacts:
    return owed.TicketFacts(**{field.name: getattr(ticket, field.name) for field in fields(owed.TicketFacts)})


def customer_overrides(ticket: models.Ticket) -> dict[str, Any] | None:
    """The policy overrides of the ticket's customer (its own warn_share, say). Read through the ticket's
    session: the planner has loaded its batch's customers there already, so this costs no query."""
    session = object_session(ticket)
    if session is None or ticket.customer_id is None:
        return None
    customer = session.get(models.Customer, ticket.customer_id)
    return customer.policy_overrides if customer is not None else None


def call_facts(call: models.Call, answered_since: bool) -> owed.CallFacts:
    assert call.callback_due is not None
    return owed.CallFacts(call.id, call.started_at, call.ended_at, call.callback_due, answered_since)


def answered_since(session: Session, calls: Iterable[models.Call]) -> set[int]:
    """The ids of `calls` whose caller has been answered since (one query for them all): the hotline's
    rule (pipeline.calls.followups), so the planner owes nothing the hotline withheld."""
    return queries.answered_since(session, calls, state.ANSWERED)


class Drafter:
    """Resolves roles to addresses and renders letters for one planning pass (or one send)."""

    def __init__(self, rt: Runtime, now: datetime) -> None:
        self.rt, self.now = rt, now
        self.rules = rules_of(rt)
        self.service, self.calendar = rt.service_policy, rt.calendar
        self.hours = self.service.hours
        self.sms = sms_enabled(rt.settings)
        self.notice_delay = notice_delay(rt.settings)
        self.domain = rt.settings.service_address.rpartition("@")[2]

    # what is owed -------------------------------------------------------------------------------------
    def ticket_owed(self, ticket: models.Ticket) -> tuple[list[owed.Visit], list[owed.Owed]]:
        facts = ticket_facts(ticket)
        visits, follow_up = owed.revisit(facts, self.rules, self.hours, self.calendar)
        overrides = customer_overrides(ticket)
        return visits, [*owed.sla_jobs(facts, self.service, self.calendar, overrides),
                        *owed.escalation_jobs(facts), *follow_up]

    def call_owed(self, call: models.Call, ticket: models.Ticket | None, *, answered_since: bool) -> list[owed.Owed]:
        facts = ticket_facts(ticket) if ticket is not None else None
        return owed.callback_jobs(call_facts(call, answered_since), facts, self.rules, sms=self.sms,
                                  notice_delay=self.notice_delay)

    # who, in which language and zone --------------------------------------------------------------
    def engineer(self, channel: str = "email") -> str | None:
        if channel == "sms":
            return self.rules.engineer_phone
        return self.rules.engineer_email or self.rt.settings.service_address

    def recipient(self, job: owed.Owed, *, ticket: models.Ticket | None = None,
                  customer: models.Customer | None = None, customer_email: str | None = None,
                  call: models.Call | None = None) -> str | None:
        if job.to == ENGINEER:
            return self.engineer(job.channel)
        if job.to == MANAGER:
            return (customer.manager_email if customer else None) or self.rules.manager_email or self.engineer()
        if job.kind in CALL_KINDS:
            return self.caller(job, call)
        if job.channel == "sms":
            return call.from_number if call is not None else None
        if ticket is not None and "@" in ticket.requester:
            return ticket.requester
        return customer_email

    @staticmethod
    def caller(job: owed.Owed, call: models.Call | None) -> str | None:
        """A missed call's notice goes to the person who called and to nobody else: by SMS to the number
        that called, when it can take one. Never by mail: neither the ticket's requester (the call may
        have joined a colleague's ticket) nor a contact of the customer is known to be the caller."""
        if job.channel != "sms" or call is None or not state.can_take_sms(call.from_number):
            return None
        return call.from_number

    def language(self, job: owed.Owed, customer_language: str | None) -> str:
        return customer_language or self.rules.customer_language if job.to == CUSTOMER else self.rules.staff_language

    def zone(self, job: owed.Owed, ticket: models.Ticket | None, customer: models.Customer | None) -> str:
        if job.to == CUSTOMER:
            return ticket.timezone if ticket else customer.timezone if customer else self.rt.settings.timezone
        return self.rt.settings.timezone

    # the row ----------------------------------------------------------------------------------------
    def draft(self, job: owed.Owed, *, ticket: models.Ticket | None = None, customer: models.Customer | None = None,
              visit: models.Visit | None = None, call: models.Call | None = None, customer_email: str | None = None,
              customer_language: str | None = None, extra: dict[str, Any] | None = None) -> sync.Draft:
        recipient = self.recipient(job, ticket=ticket, customer=customer, customer_email=customer_email, call=call)
        language = self.language(job, customer_language or (ticket.language if ticket else None))
        payload: dict[str, Any] = {"clock": job.clock, "visit": job.visit, "call": call.id if call else None,
                                   "zone": self.zone(job, ticket, customer), **(extra or {})}

        def write() -> dict[str, Any]:
            facts = letters.Facts(job.kind, language, payload["zone"], ticket, customer, job.clock, visit, call,
                                  tuple(payload.get("tickets", ())), payload.get("month"), payload.get("name"))
            rendered = letters.letter(self.rt.templates, facts, self.service, self.calendar, self.now)
            body = dict(payload)
            if job.kind == "visit_invitation" and visit is not None:
                body["ics"] = letters.invitation(
                    visit, rendered, organizer=self.rt.settings.service_address, attendee=recipient,
                    location=customer.name if customer else (ticket.requester_name or "") if ticket else "",
                    length=self.rules.visit_length, now=self.now)
            email = job.channel == "email"
            return dict(
                kind=job.kind, channel=job.channel, ticket_id=ticket.id if ticket else None,
                customer_id=customer.id if customer else ticket.customer_id if ticket else None,
                recipient=recipient, subject=rendered.subject if email else None, language=rendered.language,
                body_text=rendered.text.strip() if not email else rendered.text,
                body_html=rendered.html if email else None,
                message_id=acks.new_message_id(ticket.number or "visit" if ticket else job.kind, job.kind,
                                               self.domain) if email else None,
                payload=body, status=sync.PENDING, due_at=job.due_at, attempts=0, dedupe_key=job.key,
                created_at=self.now,
            )

        return sync.Draft(job, recipient, write)

    # at send time -------------------------------------------------------------------------------------
    def still_owed(self, session: Session, job: models.Job, tolerance: timedelta = timedelta(minutes=1)) -> str | None:
        """Why a job is no longer owed at `now` (its reason went away, or its time moved later), or None.
        The hotline's own call jobs (named by `call_sid`) are sent as they are, unless the caller has been
        answered since."""
        payload = job.payload or {}
        if job.kind in TICKET_KINDS and job.ticket_id is not None:
            ticket = session.get(models.Ticket, job.ticket_id)
            jobs = self.ticket_owed(ticket)[1] if ticket is not None else []
        elif job.kind in CALL_KINDS and payload.get("call"):
            call = session.get(models.Call, payload["call"])
            if call is None or call.callback_due is None:
                return "the call is gone"
            if answered_since(session, [call]):
                return ANSWERED_SINCE
            ticket = session.get(models.Ticket, call.ticket_id) if call.ticket_id else None
            jobs = self.call_owed(call, ticket, answered_since=False)
        elif job.kind in CALL_KINDS and payload.get("call_sid"):
            call = queries.call_by_sid(session, str(payload["call_sid"]))
            return ANSWERED_SINCE if call is not None and answered_since(session, [call]) else None
        else:
            return None
        match = next((o for o in jobs if o.key == job.dedupe_key), None)
        if match is None:
            return "no longer owed: the deadline was met, or the ticket changed"
        if match.due_at > self.now + tolerance:
            return f"moved to {match.due_at.isoformat()}"
        return None

    def rerender(self, session: Session, job: models.Job) -> dict[str, Any]:
        """Subject and body of an escalation as of now (how late it is)."""
        payload = job.payload or {}
        ticket = session.get(models.Ticket, job.ticket_id) if job.ticket_id else None
        customer = session.get(models.Customer, job.customer_id) if job.customer_id else None
        visit = session.scalar(select(models.Visit).where(models.Visit.dedupe_key == payload.get("visit", "")))
        facts = letters.Facts(job.kind, job.language or self.rules.staff_language,
                              payload.get("zone") or self.rt.settings.timezone, ticket, customer, payload.get("clock"),
                              visit, None, tuple(payload.get("tickets", ())), payload.get("month"), payload.get("name"))
        rendered = letters.letter(self.rt.templates, facts, self.service, self.calendar, self.now)
        return {"subject": rendered.subject, "body_text": rendered.text, "body_html": rendered.html}
