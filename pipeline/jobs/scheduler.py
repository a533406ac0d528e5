"""The planner (issue 7): every ticket's promises, missed calls and the policy's visits as due jobs.

`plan(rt, now)` runs before worker passes (pipeline/daemon.py's tick, `intake jobs run-due`): it asks
pipeline.jobs.owed what must exist, drafts it (pipeline.jobs.drafts) and pipeline.jobs.sync makes the
tables say so. A pass replans the tickets and the missed calls changed since their plan marks
(plan_marks, call_plan_marks); the first pass of a process and of each local day also replans every
open (or recently resolved) ticket, every call inside its callback window, the periodic visits and the
monthly survey. Everything is keyed, so planning twice, or in several processes at once, adds each job
once. Passes decide in a snapshot and write briefly (pipeline.jobs.sync), so a pass does not hold the
write lock while it renders letters.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from pipeline.calls import windows
from pipeline.jobs import drafts, handlers, owed, sync
from pipeline.runtime import Runtime
from pipeline.store import db, models

log = logging.getLogger(__name__)
KINDS = handlers.KINDS  # what is planned here; importing handlers registers how each kind runs
BATCH = 10  # tickets per snapshot and per write: one write holds the lock for milliseconds
RESOLVED_WINDOW = timedelta(days=45)  # a full pass replans tickets resolved this recently (revisits)


@dataclass
class _PassState:
    """Per process: whether a full pass ran, and on which local day."""

    day: date | None = None


def plan(rt: Runtime, now: datetime, pause: float = 0.0) -> int:
    """Create the jobs that are owed at `now` (idempotent); return how many were added.

    Each step decides in a read-only snapshot and writes what it decided in a short transaction of its
    own (see pipeline.jobs.sync): the calls (and, in a full pass, the visits and surveys), then the
    tickets, BATCH at a time. `pause`: after each batch that has a next one, sleep this share of the time
    it took, so that a long pass (a day's first, or after a burst) shares the process (its GIL) with the
    webhooks being answered beside it instead of taking it for a second or more.
    """
    state: _PassState = vars(rt).setdefault("_scheduler_pass", _PassState())
    drafter = drafts.Drafter(rt, now)
    today = now.astimezone(drafter.hours.zone).date()
    full = state.day != today
    with db.snapshot(rt.sessions) as session:
        changes = sync.Changes(now)
        _plan_calls(session, drafter, changes, _calls_to_plan(full))
        if full:
            _plan_periodic(session, drafter, today, changes)
            _plan_surveys(session, drafter, today, changes)
    added = _write(rt, changes)
    after: int | None = 0
    while after is not None:
        began = time.monotonic()
        with db.snapshot(rt.sessions) as session:
            changes = sync.Changes(now)
            after = _plan_tickets(session, drafter, full, after, changes)
        added += _write(rt, changes)
        if pause and after is not None:
            time.sleep((time.monotonic() - began) * pause)
    state.day = today
    return added


def _write(rt: Runtime, changes: sync.Changes) -> int:
    if not changes:
        return 0
    with db.transaction(rt.sessions) as session:
        return changes.write(session)


# tickets ----------------------------------------------------------------------------------------------

def _plan_tickets(session: Session, drafter: drafts.Drafter, full: bool, after: int,
                  changes: sync.Changes) -> int | None:
    """Replan the next batch of tickets after id `after`; return where the next batch starts (None when
    this was the last)."""
    T, mark = models.Ticket, models.PlanMark
    changed = or_(mark.ticket_id.is_(None), mark.ticket_updated_at != T.updated_at)
    if full:
        live = T.status.in_((owed.OPEN, owed.WAITING)) | (T.resolved_at >= drafter.now - RESOLVED_WINDOW)
        changed = or_(changed, live)
    tickets = list(session.scalars(select(T).outerjoin(mark, mark.ticket_id == T.id).where(changed, T.id > after)
                                   .order_by(T.id).limit(BATCH)))
    if not tickets:
        return None
    _plan_ticket_batch(session, drafter, tickets, changes)
    return tickets[-1].id if len(tickets) == BATCH else None


def _plan_ticket_batch(session: Session, drafter: drafts.Drafter, tickets: Sequence[models.Ticket],
                       changes: sync.Changes) -> None:
    ids = [t.id for t in tickets]
    customers = _customers(session, {t.customer_id for t in tickets if t.customer_id})
    jobs = _group(session.scalars(select(models.Job).where(
        models.Job.ticket_id.in_(ids), models.Job.kind.in_(drafts.TICKET_KINDS))), "ticket_id")
    visits = _group(session.scalars(select(models.Visit).where(
        models.Visit.ticket_id.in_(ids), models.Visit.kind == "revisit")), "ticket_id")
    emails = _first_emails(session, customers)
    planned = []
    for ticket in tickets:
        customer = customers.get(ticket.customer_id or -1)
        try:
            wanted, owed_jobs = drafter.ticket_owed(ticket)
        except Exception:  # the per-item guard (say, overrides an edited policy no longer takes): the others
            log.exception("cannot plan ticket %s; it is planned again next pass", ticket.number or ticket.id)
            continue  # go on, and it stays unmarked
        planned.append(ticket)
        wanted, owed_jobs = _drop_stale_new_visits(wanted, owed_jobs, visits[ticket.id], drafter)
        email = emails.get(ticket.customer_id or -1)
        rows = changes.visits(
            visits[ticket.id],
            [sync.VisitDraft(v, ticket.customer_id, ticket.id, _customer_address(ticket, email)) for v in wanted],
            sync.sent_keys(jobs[ticket.id]))
        changes.jobs(jobs[ticket.id], [
            drafter.draft(o, ticket=ticket, customer=customer, visit=rows.get(o.visit or ""), customer_email=email)
            for o in owed_jobs], drafter.rules.catch_up)
    changes.mark(tickets=planned)


def _drop_stale_new_visits(wanted: list[owed.Visit], jobs: list[owed.Owed], existing: list[models.Visit],
                           drafter: drafts.Drafter) -> tuple[list[owed.Visit], list[owed.Owed]]:
    """A visit whose day has long passed is not planned any more (say, a ticket resolved a year ago)."""
    known = {v.dedupe_key for v in existing}
    due = {o.key: o for o in jobs}
    stale = {v.key for v in wanted if v.key not in known and v.job_key in due
             and owed.is_stale(due[v.job_key], drafter.now, drafter.rules.catch_up)}
    return [v for v in wanted if v.key not in stale], [o for o in jobs if o.visit not in stale]


# missed calls -----------------------------------------------------------------------------------------

def _calls_to_plan(full: bool) -> ColumnElement[bool]:
    """In a full pass every call (inside its window), else those changed since their plan mark or whose
    ticket did (an answer or a resolution ends what a call owes)."""
    if full:
        return true()
    C, T, mark, ticket_mark = models.Call, models.Ticket, models.CallPlanMark, models.PlanMark
    ticket_changed = (select(T.id).outerjoin(ticket_mark, ticket_mark.ticket_id == T.id)
                      .where(T.id == C.ticket_id, or_(ticket_mark.ticket_id.is_(None),
                                                      ticket_mark.ticket_updated_at != T.updated_at)))
    return or_(mark.call_id.is_(None), mark.call_updated_at != C.updated_at, ticket_changed.exists())


def _plan_calls(session: Session, drafter: drafts.Drafter, changes: sync.Changes,
                which: ColumnElement[bool]) -> None:
    """Replan the missed calls still inside their callback window that `which` selects, each caller's
    earlier calls first: a retry owes no job that an earlier call of theirs still does."""
    C = models.Call
    calls = list(session.scalars(
        select(C).outerjoin(models.CallPlanMark, models.CallPlanMark.call_id == C.id)
        .where(C.callback_due.is_not(None), C.callback_due >= drafter.now - drafter.rules.catch_up, which)
        .order_by(C.started_at, C.id)))
    if not calls:
        return
    tickets = {t.id: t for t in session.scalars(select(models.Ticket).where(
        models.Ticket.id.in_({c.ticket_id for c in calls if c.ticket_id})))}
    customers = _customers(session, {c.customer_id for c in calls if c.customer_id})
    emails = _first_emails(session, customers)
    keys = [key for c in calls for key in _call_keys(c.id)]
    existing = list(session.scalars(select(models.Job).where(models.Job.dedupe_key.in_(keys))))
    follow_ups = _foreign_callback_jobs(session, calls)
    for call in calls:
        ticket = tickets.get(call.ticket_id or -1)
        customer = customers.get(call.customer_id or -1)
        done = follow_ups.done_for(call)
        wanted = [drafter.draft(o, ticket=ticket, customer=customer, call=call, customer_email=emails.get(
            call.customer_id or -1), customer_language=call.language)
            for o in drafter.call_owed(call, ticket, answered_since=call.id in follow_ups.answered)
            if o.kind not in done]
        mine = [job for job in existing if job.dedupe_key in _call_keys(call.id)]
        changes.jobs(mine, wanted, drafter.rules.catch_up)
        # as sync.Changes.jobs writes them: a draft without a recipient, or stale, is not
        follow_ups.planned(call, mine, [d for d in wanted if d.recipient is not None
                                        and not owed.is_stale(d.owed, drafter.now, drafter.rules.catch_up)])
    changes.mark(calls=calls)


def _call_keys(call_id: int) -> tuple[str, ...]:
    return (f"callback_reminder:{call_id}", f"callback_reminder:{call_id}:sms", f"callback_notice:{call_id}")


@dataclass
class _FollowUps:
    """The follow-up jobs around a batch of missed calls, and the rule of one reminder and one notice per
    callback window (pipeline.calls.windows), which the hotline applies too. What each does is
    windows.REMINDER or windows.NOTICE, the kinds of the planner's own jobs."""

    answered: set[int]  # the calls whose caller has been answered since: they owe nothing
    # call id -> what the hotline's own jobs for it do in any state (the planner adds no second one), what
    # those still live do, and what all its live jobs do, the hotline's and the planner's
    hotline: defaultdict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    hotline_live: defaultdict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    live: defaultdict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    # (ticket, number) -> that caller's missed calls on the ticket
    callers: defaultdict[tuple[int, str], list[windows.Window]] = field(default_factory=lambda: defaultdict(list))

    def done_for(self, call: models.Call) -> set[str]:
        """What `call` needs no job of the planner's for: what the hotline did for it, and what the live jobs
        of an earlier call of its caller on the ticket, whose window was open when it began, do."""
        done = set(self.hotline[call.id])
        if call.ticket_id is not None and call.from_number is not None:
            this = windows.Window(call.id, call.started_at, call.callback_due, call.id in self.answered)
            done |= windows.covered(this, self.callers[(call.ticket_id, call.from_number)], self.live)
        return done

    def planned(self, call: models.Call, mine: Sequence[models.Job], drafted: Sequence[sync.Draft]) -> None:
        """What the call's live jobs do once this pass is written, for the later calls of its caller."""
        self.live[call.id] = (self.hotline_live[call.id] | {d.owed.kind for d in drafted}
                              | {windows.DOES[j.kind] for j in mine if j.status in ("running", "sent")})


def _foreign_callback_jobs(session: Session, calls: Sequence[models.Call]) -> _FollowUps:
    """The missed calls of the batch's callers on their tickets, whether each caller has been answered
    since, and the follow-up jobs of those calls, the hotline's (named by call_sid) and ours (by id)."""
    C, J = models.Call, models.Job
    tickets = {c.ticket_id for c in calls if c.ticket_id}
    numbers = {c.from_number for c in calls if c.from_number}
    theirs = list(session.execute(select(C.id, C.call_sid, C.ticket_id, C.from_number, C.started_at, C.callback_due)
                                  .where(C.ticket_id.in_(tickets), C.from_number.in_(numbers),
                                         C.callback_due.is_not(None)))) if tickets and numbers else []
    follow_ups = _FollowUps(drafts.answered_since(session, [*calls, *theirs]))
    for row in theirs:
        follow_ups.callers[(row.ticket_id, row.from_number)].append(
            windows.Window(row.id, row.started_at, row.callback_due, row.id in follow_ups.answered))
    if not tickets:
        return follow_ups
    ids_by_sid = {row.call_sid: row.id for row in theirs} | {c.call_sid: c.id for c in calls}
    since = min(c.started_at for c in [*calls, *theirs])
    for job in session.scalars(select(J).where(J.ticket_id.in_(tickets), J.kind.in_(sorted(windows.DOES)),
                                               J.created_at >= since)):
        owner = windows.job_call(job.payload, ids_by_sid)
        if owner is None:
            continue
        does, live = windows.DOES[job.kind], job.status in windows.LIVE
        if job.dedupe_key not in _call_keys(owner):
            follow_ups.hotline[owner].add(does)
            if live:
                follow_ups.hotline_live[owner].add(does)
        if live:
            follow_ups.live[owner].add(does)
    return follow_ups


# periodic visits and the monthly survey ---------------------------------------------------------------

def _plan_periodic(session: Session, drafter: drafts.Drafter, today: date, changes: sync.Changes) -> None:
    if not drafter.rules.visits:
        return
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
    rows = changes.visits(visits, [sync.VisitDraft(v, c.id, None, emails.get(c.id)) for c, v, _ in eligible],
                          sync.sent_keys(existing))
    changes.jobs(existing, [
        drafter.draft(o, customer=c, visit=rows.get(v.key), customer_email=emails.get(c.id),
                      customer_language=languages.get(c.id)) for c, v, jobs in eligible for o in jobs],
        drafter.rules.catch_up)


def _plan_surveys(session: Session, drafter: drafts.Drafter, today: date, changes: sync.Changes) -> None:
    day = owed.survey_day(today, drafter.rules, drafter.calendar)
    if day is None:
        return
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
    changes.visits(visits, [sync.VisitDraft(visit, latest[p].customer_id, None, p)
                            for p, (visit, _) in planned.items()], sync.sent_keys(existing))
    changes.jobs(existing, [
        drafter.draft(job, customer=customers.get(latest[p].customer_id or -1), customer_email=p,
                      customer_language=latest[p].language,
                      extra={"month": f"{first:%Y-%m}", "name": latest[p].requester_name, "tickets": [
                          {"number": t.number, "subject": t.subject} for t in by_person[p]]})
        for p, (_, job) in planned.items()], drafter.rules.catch_up)


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
    """Replan one ticket and its missed calls inside the caller's transaction (a change staff made, as of
    `now`)."""
    session.flush()
    changes, drafter = sync.Changes(now), drafts.Drafter(rt, now)
    _plan_ticket_batch(session, drafter, [ticket], changes)
    _plan_calls(session, drafter, changes, models.Call.ticket_id == ticket.id)
    return changes.write(session)
