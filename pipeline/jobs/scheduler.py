"""The planner (issue 7): every ticket's promises, missed calls and the policy's visits as due jobs.

`plan(rt, now)` runs before every worker pass (pipeline/daemon.py's tick, `intake jobs run-due`): it asks
pipeline.jobs.owed what must exist, drafts it (pipeline.jobs.drafts) and pipeline.jobs.sync makes the
tables say so. A pass replans the tickets changed since their plan mark (plan_marks) and the calls still
inside their callback window; the first pass of a process and of each local day also replans every
open (or recently resolved) ticket, the periodic visits and the monthly survey. Everything is keyed,
so planning twice, or in several processes at once, adds each job once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pipeline.jobs import drafts, handlers, owed, sync
from pipeline.runtime import Runtime
from pipeline.store import db, models

KINDS = handlers.KINDS  # what is planned here; importing handlers registers how each kind runs
BATCH = 200
RESOLVED_WINDOW = timedelta(days=45)  # a full pass replans tickets resolved this recently (revisits)


@dataclass
class _PassState:
    """Per process: whether a full pass ran, and on which local day."""

    day: date | None = None


def plan(rt: Runtime, now: datetime) -> int:
    """Create the jobs that are owed at `now` (idempotent); return how many were added.

    One transaction in the usual tick (few changed tickets); a long backlog continues in batches.
    """
    state: _PassState = vars(rt).setdefault("_scheduler_pass", _PassState())
    drafter = drafts.Drafter(rt, now)
    today = now.astimezone(drafter.hours.zone).date()
    full = state.day != today
    with db.transaction(rt.sessions) as session:
        added = _plan_calls(session, drafter)
        if full:
            added += _plan_periodic(session, drafter, today) + _plan_surveys(session, drafter, today)
        batch, after = _plan_tickets(session, drafter, full, 0)
        added += batch
    while after is not None:
        with db.transaction(rt.sessions) as session:
            batch, after = _plan_tickets(session, drafter, full, after)
            added += batch
    state.day = today
    return added


# tickets ----------------------------------------------------------------------------------------------

def _plan_tickets(session: Session, drafter: drafts.Drafter, full: bool, after: int) -> tuple[int, int | None]:
    """Replan the next batch of tickets after id `after`: the number of jobs added, and where the next
    batch starts (None when this was the last)."""
    T, mark = models.Ticket, models.PlanMark
    changed = or_(mark.ticket_id.is_(None), mark.ticket_updated_at != T.updated_at)
    if full:
        live = T.status.in_((owed.OPEN, owed.WAITING)) | (T.resolved_at >= drafter.now - RESOLVED_WINDOW)
        changed = or_(changed, live)
    tickets = list(session.scalars(select(T).outerjoin(mark, mark.ticket_id == T.id).where(changed, T.id > after)
                                   .order_by(T.id).limit(BATCH)))
    if not tickets:
        return 0, None
    return _plan_ticket_batch(session, drafter, tickets), tickets[-1].id if len(tickets) == BATCH else None


def _plan_ticket_batch(session: Session, drafter: drafts.Drafter, tickets: Sequence[models.Ticket]) -> int:
    ids = [t.id for t in tickets]
    customers = _customers(session, {t.customer_id for t in tickets if t.customer_id})
    jobs = _group(session.scalars(select(models.Job).where(
        models.Job.ticket_id.in_(ids), models.Job.kind.in_(drafts.TICKET_KINDS))), "ticket_id")
    visits = _group(session.scalars(select(models.Visit).where(
        models.Visit.ticket_id.in_(ids), models.Visit.kind == "revisit")), "ticket_id")
    emails = _first_emails(session, customers)
    added = 0
    for ticket in tickets:
        customer = customers.get(ticket.customer_id or -1)
        wanted, owed_jobs = drafter.ticket_owed(ticket)
        wanted, owed_jobs = _drop_stale_new_visits(wanted, owed_jobs, visits[ticket.id], drafter)
        email = emails.get(ticket.customer_id or -1)
        rows = sync.sync_visits(
            session, visits[ticket.id],
            [sync.VisitDraft(v, ticket.customer_id, ticket.id, _customer_address(ticket, email)) for v in wanted],
            sync.sent_keys(jobs[ticket.id]), drafter.now)
        added += sync.sync_jobs(session, jobs[ticket.id], [
            drafter.draft(o, ticket=ticket, customer=customer, visit=rows.get(o.visit or ""), customer_email=email)
            for o in owed_jobs], drafter.now, drafter.rules.catch_up)
    _mark(session, tickets)
    return added


def _drop_stale_new_visits(wanted: list[owed.Visit], jobs: list[owed.Owed], existing: list[models.Visit],
                           drafter: drafts.Drafter) -> tuple[list[owed.Visit], list[owed.Owed]]:
    """A visit whose day has long passed is not planned any more (say, a ticket resolved a year ago)."""
    known = {v.dedupe_key for v in existing}
    due = {o.key: o for o in jobs}
    stale = {v.key for v in wanted if v.key not in known and v.job_key in due
             and owed.is_stale(due[v.job_key], drafter.now, drafter.rules.catch_up)}
    return [v for v in wanted if v.key not in stale], [o for o in jobs if o.visit not in stale]


def _mark(session: Session, tickets: Sequence[models.Ticket]) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(models.PlanMark).values([{"ticket_id": t.id, "ticket_updated_at": t.updated_at}
                                                for t in tickets])
    session.execute(statement.on_conflict_do_update(
        index_elements=["ticket_id"], set_={"ticket_updated_at": statement.excluded.ticket_updated_at}))


# missed calls -----------------------------------------------------------------------------------------

def _plan_calls(session: Session, drafter: drafts.Drafter) -> int:
    calls = list(session.scalars(select(models.Call).where(
        models.Call.callback_due.is_not(None),
        models.Call.callback_due >= drafter.now - drafter.rules.catch_up).order_by(models.Call.id)))
    if not calls:
        return 0
    tickets = {t.id: t for t in session.scalars(select(models.Ticket).where(
        models.Ticket.id.in_({c.ticket_id for c in calls if c.ticket_id})))}
    customers = _customers(session, {c.customer_id for c in calls if c.customer_id})
    emails = _first_emails(session, customers)
    keys = [key for c in calls for key in _call_keys(c.id)]
    existing = list(session.scalars(select(models.Job).where(models.Job.dedupe_key.in_(keys))))
    foreign = _foreign_callback_jobs(session, calls, set(keys))
    added = 0
    for call in calls:
        ticket = tickets.get(call.ticket_id or -1)
        customer = customers.get(call.customer_id or -1)
        wanted = [o for o in drafter.call_owed(call, ticket) if (call.id, o.kind) not in foreign]
        mine = [job for job in existing if job.dedupe_key in _call_keys(call.id)]
        added += sync.sync_jobs(session, mine, [
            drafter.draft(o, ticket=ticket, customer=customer, call=call, customer_email=emails.get(
                call.customer_id or -1), customer_language=call.language) for o in wanted],
            drafter.now, drafter.rules.catch_up)
    return added


def _call_keys(call_id: int) -> tuple[str, ...]:
    return (f"callback_reminder:{call_id}", f"callback_reminder:{call_id}:sms", f"callback_notice:{call_id}")


def _foreign_callback_jobs(session: Session, calls: Sequence[models.Call], mine: set[str]) -> set[tuple[int, str]]:
    """What the hotline already did for a call by itself: a reminder on the call's ticket, or an SMS to the
    caller since the call began. The planner then adds no second one."""
    ticket_ids = {c.ticket_id for c in calls if c.ticket_id}
    jobs = [j for j in session.scalars(select(models.Job).where(
        models.Job.ticket_id.in_(ticket_ids), models.Job.created_at >= min(c.started_at for c in calls)))
        if j.dedupe_key not in mine]
    found = set()
    for call in calls:
        for job in jobs:
            if job.ticket_id != call.ticket_id or job.created_at < call.started_at:
                continue
            if job.kind in ("callback_reminder", "callback_call"):
                found.add((call.id, "callback_reminder"))
            if job.kind == "callback_notice" or (job.channel == "sms" and job.recipient == call.from_number):
                found.add((call.id, "callback_notice"))
    return found


# periodic visits and the monthly survey ---------------------------------------------------------------

def _plan_periodic(session: Session, drafter: drafts.Drafter, today: date) -> int:
    if not drafter.rules.visits:
        return 0
    customers = {c.id: c for c in session.scalars(select(models.Customer).order_by(models.Customer.id))}
    emails, languages = _first_emails(session, customers), _latest_languages(session)
    planned = [(customer, rule, visit, jobs) for customer in customers.values() for rule in drafter.rules.visits
               for visit, jobs in owed.periodic(customer.id, rule, today, drafter.rules, drafter.hours,
                                                drafter.calendar)]
    keys = [o.key for *_, jobs in planned for o in jobs]
    existing = list(session.scalars(select(models.Job).where(models.Job.dedupe_key.in_(keys))))
    visits = list(session.scalars(select(models.Visit).where(models.Visit.dedupe_key.in_(
        [v.key for _, _, v, _ in planned]))))
    eligible = [(c, v, jobs) for c, rule, v, jobs in planned
                if c.tier in rule.tiers and drafter.rules.has_clause(c.name, rule.contract_clause)]
    rows = sync.sync_visits(session, visits, [sync.VisitDraft(v, c.id, None, emails.get(c.id))
                                              for c, v, _ in eligible], sync.sent_keys(existing), drafter.now)
    return sync.sync_jobs(session, existing, [
        drafter.draft(o, customer=c, visit=rows.get(v.key), customer_email=emails.get(c.id),
                      customer_language=languages.get(c.id)) for c, v, jobs in eligible for o in jobs],
        drafter.now, drafter.rules.catch_up)


def _plan_surveys(session: Session, drafter: drafts.Drafter, today: date) -> int:
    day = owed.survey_day(today, drafter.rules, drafter.calendar)
    if day is None:
        return 0
    first, this = owed.previous_month(today)
    start, end = (datetime.combine(d, datetime.min.time(), tzinfo=drafter.hours.zone) for d in (first, this))
    resolved = session.scalars(select(models.Ticket).where(
        models.Ticket.status == owed.RESOLVED, models.Ticket.resolved_at >= start, models.Ticket.resolved_at < end,
        models.Ticket.requester.like("%@%")).order_by(models.Ticket.id))
    by_person: dict[str, list[models.Ticket]] = defaultdict(list)
    for ticket in resolved:
        by_person[ticket.requester.lower()].append(ticket)
    customers = _customers(session, {t.customer_id for ts in by_person.values() for t in ts if t.customer_id})
    planned = {person: owed.survey(person, this, day, drafter.hours) for person in by_person}
    existing = list(session.scalars(select(models.Job).where(
        models.Job.dedupe_key.in_([job.key for _, job in planned.values()]))))
    visits = list(session.scalars(select(models.Visit).where(
        models.Visit.dedupe_key.in_([visit.key for visit, _ in planned.values()]))))
    latest = {person: tickets[-1] for person, tickets in by_person.items()}
    sync.sync_visits(session, visits, [sync.VisitDraft(visit, latest[p].customer_id, None, p)
                                       for p, (visit, _) in planned.items()], sync.sent_keys(existing), drafter.now)
    return sync.sync_jobs(session, existing, [
        drafter.draft(job, customer=customers.get(latest[p].customer_id or -1), customer_email=p,
                      customer_language=latest[p].language,
                      extra={"month": f"{first:%Y-%m}", "name": latest[p].requester_name, "tickets": [
                          {"number": t.number, "subject": t.subject} for t in by_person[p]]})
        for p, (_, job) in planned.items()], drafter.now, drafter.rules.catch_up)


# small reads ------------------------------------------------------------------------------------------

def _customers(session: Session, ids: set[int]) -> dict[int, models.Customer]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(models.Customer).where(models.Customer.id.in_(ids)))}


def _first_emails(session: Session, customers: dict[int, models.Customer]) -> dict[int, str]:
    """Each customer's first e-mail contact: where invitations go when no ticket names a person."""
    found: dict[int, str] = {}
    if customers:
        for contact in session.scalars(select(models.Contact).where(
                models.Contact.customer_id.in_(list(customers)), models.Contact.kind == "email")
                .order_by(models.Contact.id)):
            found.setdefault(contact.customer_id, contact.value)
    return found


def _latest_languages(session: Session) -> dict[int, str]:
    """The language of each customer's newest ticket: what their invitations are written in."""
    newest = (select(func.max(models.Ticket.id)).where(models.Ticket.customer_id.is_not(None))
              .group_by(models.Ticket.customer_id))
    rows = session.execute(select(models.Ticket.customer_id, models.Ticket.language)
                           .where(models.Ticket.id.in_(newest)))
    return {customer_id: language for customer_id, language in rows}


def _customer_address(ticket: models.Ticket, customer_email: str | None) -> str | None:
    return ticket.requester if "@" in ticket.requester else customer_email


def _group(rows: object, attribute: str) -> defaultdict[int, list]:
    grouped: defaultdict[int, list] = defaultdict(list)
    for row in rows:  # type: ignore[attr-defined]
        grouped[getattr(row, attribute)].append(row)
    return grouped


def plan_ticket(rt: Runtime, session: Session, ticket: models.Ticket, now: datetime) -> int:
    """Replan one ticket inside the caller's transaction (a change staff made, as of `now`)."""
    session.flush()
    return _plan_ticket_batch(session, drafts.Drafter(rt, now), [ticket])
