"""Two simulated weeks (Monday 2026-03-23 to Monday 2026-04-06, Qingming holiday 4-6 April included).

Tickets are opened, answered, resolved and left open through the command line at their simulated
instants; between them the scheduler runs every simulated hour (the 09:00 run through `intake jobs
run-due --now`, the others through the same Python calls). A loopback SMTP relay counts what arrives:
every reminder, escalation, revisit, invitation and survey arrives exactly once, on its day.
"""

from __future__ import annotations

import email
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from pipeline.jobs import scheduler, worker
from pipeline.runtime import Runtime
from pipeline.settings import load_settings
from pipeline.sla import workdays
from pipeline.store import db, models
from tests.cli.conftest import Run, as_json
from tests.mailmaker import make_mail
from tests.serving import free_port
from tests.sla.helpers import SHANGHAI

START = datetime(2026, 3, 23, 9, 0, tzinfo=SHANGHAI)
END = datetime(2026, 4, 6, 9, 0, tzinfo=SHANGHAI)
CUSTOMERS = ("name,emails,domains,phones,tier,manager_email,timezone\n"
             "Mill Co,ann@mill.example.com,mill.example.com,,8x5,boss@support.example,Asia/Shanghai\n"
             "华东电厂,wang@plant.example.cn,plant.example.cn,+8613800138000,24x7,li@support.example,"
             "Asia/Shanghai\n")
CONFIG = """
[policy.scheduler]
engineer_email = "oncall@support.example"

[policy.contracts]
"Mill Co" = ["training"]
"""


def ticket_of(out: str) -> str:
    """The ticket of the one message `intake ingest --json` reported (a JSON array or JSON Lines)."""
    rows = as_json(out)
    row, = rows if isinstance(rows, list) else [rows]
    return row["ticket"]


class Sink:
    """The relay's receiving end: every message, by Message-ID."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def sink(cli: Run, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    handler, port = Sink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("INTAKE_RELAY_URL", f"smtp://127.0.0.1:{port}")
    yield handler
    controller.stop()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


class Story:
    """What staff and customers do, each at its simulated instant, through the command line."""

    def __init__(self, cli: Run, folder: Path) -> None:
        self.cli, self.folder, self.numbers = cli, folder, {}

    def mail(self, name: str, sender: str, subject: str, body: str) -> Callable[[datetime], None]:
        def act(at: datetime) -> None:
            path = self.folder / f"{name}.eml"
            path.write_bytes(make_mail(subject, body, sender))
            self.numbers[name] = ticket_of(self.cli("ingest", str(path), "--received-at", at.isoformat(),
                                                    "--json")[1])
        return act

    def ticket(self, verb: str, name: str) -> Callable[[datetime], None]:
        def act(at: datetime) -> None:
            assert self.cli("tickets", verb, self.numbers[name], "--at", at.isoformat(), "--json")[0] == 0
        return act


def missed_call(rt: Runtime, at: datetime) -> None:
    """What the hotline records for a call nobody answered (its webhooks are tested in tests/calls)."""
    with db.transaction(rt.sessions) as session:
        session.add(models.Call(call_sid="CA-night", from_number="+8613800138000", customer_id=2,
                                status="no-answer", started_at=at, ended_at=at + timedelta(seconds=40),
                                callback_due=at + timedelta(minutes=15), created_at=at, updated_at=at))


@pytest.mark.slow
def test_two_weeks_send_everything_once_on_its_day(cli: Run, sink: Sink, tmp_path: Path) -> None:
    (tmp_path / "intake.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    assert cli("customers", "import", str(tmp_path / "customers.csv"))[0] == 0
    rt = Runtime.open(load_settings())
    story = Story(cli, tmp_path)
    events = sorted([
        # A: Mill Co's question, never answered: both clocks warn and escalate
        (local("2026-03-23 10:00"), story.mail("A", "ann@mill.example.com", "Question on SNMP",
                                               "How do I configure SNMP traps?")),
        # B: a night outage at the power plant, answered at once, restored before the on-site deadline
        (local("2026-03-24 02:00"), story.mail("B", "wang@plant.example.cn", "核心交换机宕机",
                                               "核心交换机宕机，全厂业务中断。")),
        (local("2026-03-24 02:10"), story.ticket("respond", "B")),
        (local("2026-03-24 03:50"), story.ticket("resolve", "B")),
        # E: answered and resolved on Thursday: a phone revisit the next Tuesday
        (local("2026-03-24 09:30"), story.mail("E", "ann@mill.example.com", "Alarm on board 3",
                                               "How do I clear the alarm on board 3?")),
        (local("2026-03-24 09:40"), story.ticket("respond", "E")),
        (local("2026-03-26 15:00"), story.ticket("resolve", "E")),
        # C: a complaint asking for a manager: escalated at once, answered the same afternoon
        (local("2026-03-25 11:00"), story.mail("C", "ann@mill.example.com", "投诉：问题一直没有解决",
                                               "我要投诉，请找你们经理处理。")),
        (local("2026-03-25 14:00"), story.ticket("respond", "C")),
        (local("2026-03-26 20:00"), lambda at: missed_call(rt, at)),
        # F: resolved on 1 April: its revisit falls after the Qingming holiday, reminded before it
        (local("2026-04-01 09:30"), story.mail("F", "ann@mill.example.com", "Licence question",
                                               "How do I renew the licence?")),
        (local("2026-04-01 09:40"), story.ticket("respond", "F")),
        (local("2026-04-01 16:00"), story.ticket("resolve", "F")),
    ], key=lambda event: event[0])

    step = START
    while step <= END:
        while events and events[0][0] <= step:
            at, act = events.pop(0)
            act(at)
        if step.hour == 9:
            code, out, _ = cli("jobs", "run-due", "--now", step.isoformat(), "--json")
            assert code == 0 and all(row["status"] in ("sent", "cancelled") for row in as_json(out))
        else:
            rt.clock = lambda: step  # noqa: B023 - read at once, within this step
            scheduler.plan(rt, step)
            assert all(o.status in ("sent", "cancelled") for o in worker.run_due(rt, step))
        step += timedelta(hours=1)

    numbers = {number: name for name, number in story.numbers.items()}
    with rt.sessions() as session:
        sent = [job for job in session.scalars(select(models.Job).where(models.Job.status == "sent"))
                if job.kind != "ack"]
    rt.close()

    # exactly once: one message per Message-ID at the relay, one per sent job
    arrived = Counter(message["Message-ID"].strip().strip("<>") for message in sink.messages)
    assert all(count == 1 for count in arrived.values()), arrived.most_common(3)
    assert sorted(arrived) == sorted(job.message_id for job in sent if job.kind != "ack")

    # each on its day, within the hour its step ran
    calendar = workdays.WorkCalendar()
    for job in sent:
        assert job.sent_at is not None and timedelta(0) <= job.sent_at - job.due_at < timedelta(hours=1), job.kind
        assert job.sent_at.astimezone(SHANGHAI).date() == job.due_at.astimezone(SHANGHAI).date(), job.kind
        if job.kind in ("revisit", "revisit_reminder", "inspection_prepare", "survey"):
            assert calendar.is_workday(job.sent_at.astimezone(SHANGHAI).date()), job.kind

    got = sorted((job.kind, numbers.get(job.ticket_id and _number(rt, job.ticket_id), "-"), job.recipient,
                  f"{job.due_at.astimezone(SHANGHAI):%m-%d %H:%M}") for job in sent)
    assert got == sorted([
        # A (8x5, level 4), never answered: Monday 10:00 -> response by Tuesday's close, restore in 5 business days
        ("sla_warning", "A", "oncall@support.example", "03-24 13:30"),
        ("sla_escalation", "A", "boss@support.example", "03-24 17:30"),
        ("sla_warning", "A", "oncall@support.example", "03-26 16:22"),
        ("sla_escalation", "A", "boss@support.example", "03-30 10:00"),
        # B (24x7, level 1) answered in 10 min, restored in 1 h 50: only its on-site revisit is left
        ("visit_invitation", "B", "wang@plant.example.cn", "03-24 03:50"),
        ("revisit_reminder", "B", "oncall@support.example", "03-26 09:00"),
        ("revisit", "B", "oncall@support.example", "03-27 09:00"),
        # C (8x5, level 3): the complaint reaches the manager at once; answered at 14:00, an hour late
        ("escalation", "C", "boss@support.example", "03-25 11:00"),
        ("sla_warning", "C", "oncall@support.example", "03-25 12:30"),
        ("sla_escalation", "C", "boss@support.example", "03-25 13:00"),
        ("sla_warning", "C", "oncall@support.example", "03-26 13:45"),  # on site by Thursday's close
        ("sla_escalation", "C", "boss@support.example", "03-26 17:30"),
        ("sla_warning", "C", "oncall@support.example", "03-27 12:00"),  # restore in 24 business hours
        ("sla_escalation", "C", "boss@support.example", "03-30 09:30"),
        # E (8x5, level 3): on-site deadline missed, restored in time, then a phone revisit
        ("sla_warning", "E", "oncall@support.example", "03-25 13:22"),
        ("sla_escalation", "E", "boss@support.example", "03-25 17:30"),
        ("sla_warning", "E", "oncall@support.example", "03-26 10:30"),
        ("revisit_reminder", "E", "oncall@support.example", "03-30 09:00"),
        ("revisit", "E", "oncall@support.example", "03-31 09:00"),
        # F: resolved on 1 April; the revisit is on 7 April, after Qingming, reminded the working day before
        ("revisit_reminder", "F", "oncall@support.example", "04-03 09:00"),
        # the missed night call at the plant (no SMS here, and no mail: wang@ is not known to be the caller)
        ("callback_reminder", "-", "oncall@support.example", "03-26 20:05"),
        # the plant's Q2 inspection is on 15 April: prepared ten working days before
        ("inspection_prepare", "-", "oncall@support.example", "03-31 09:00"),
        # March's survey, in the first working week of April: B's and E's requesters, not F's
        ("survey", "-", "ann@mill.example.com", "04-01 09:00"),
        ("survey", "-", "wang@plant.example.cn", "04-01 09:00"),
    ])
    surveys = [m for m in sink.messages if "SR-" not in m["Subject"] and m["To"] == "ann@mill.example.com"]
    assert len(surveys) == 1 and story.numbers["E"] in surveys[0].get_body(("plain",)).get_content()
    assert story.numbers["F"] not in surveys[0].get_body(("plain",)).get_content()

    _, out, _ = cli("visits", "list", "--json")
    visits = {(v["kind"], v["ticket"] and numbers[v["ticket"]], v["date"]): v["status"] for v in as_json(out)}
    assert visits[("revisit", "B", "2026-03-27")] == "done"
    assert visits[("revisit", "F", "2026-04-07")] == "planned"
    assert visits[("inspection", None, "2026-04-15")] == "planned"
    assert visits[("training", None, "2026-07-21")] == "planned"  # Mill Co's contract: half-yearly training
    surveyed = sorted((v["recipient"], v["status"]) for v in as_json(out) if v["kind"] == "survey")
    assert surveyed == [("ann@mill.example.com", "done"), ("wang@plant.example.cn", "done")]


def _number(rt: Runtime, ticket_id: int) -> str | None:
    with rt.sessions() as session:
        ticket = session.get(models.Ticket, ticket_id)
        return ticket.number if ticket else None
