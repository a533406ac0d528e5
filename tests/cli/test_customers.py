"""`intake customers import`: a customer whose tier or policy overrides change has its open tickets get new
deadlines and their reminders move at once; open tickets of nobody's that belong to an imported customer
become its own; resolved tickets keep their terms. Files come in UTF-8, GB18030 (GBK) or Big5.
`intake customers list` shows contacts as people write them."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run, as_json
from tests.mailmaker import make_mail

HEADER = "name,emails,domains,phones,tier,manager_email,timezone"
RECEIVED = "2026-03-02T10:00:00+08:00"  # a Monday


def import_csv(cli: Run, tmp_path: Path, *lines: str, encoding: str = "utf-8") -> tuple[int, str, str]:
    """Import a file an hour after the tickets arrived (tickets are replanned as of then)."""
    path = tmp_path / "customers.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return cli("customers", "import", str(path), "--at", "2026-03-02T11:00:00+08:00")


def summary(recomputed: int, linked: int = 0) -> str:
    return (f"imported 1 customer(s), rejected 0 row(s), recomputed the deadlines of {recomputed} open ticket(s), "
            f"linked {linked} ticket(s) to their customer\n")


def question(cli: Run, tmp_path: Path, subject: str, sender: str = "ann@mill.example.com") -> str:
    path = tmp_path / f"{subject}.eml"
    path.write_bytes(make_mail(subject, "The board shows an alarm, how do I clear it?", sender))
    row, = as_json(cli("ingest", str(path), "--received-at", RECEIVED, "--json")[1])
    return row["ticket"]


def pending(cli: Run, number: str) -> dict[str, list[str]]:
    """kind -> the times (HH:MM on day DD) of the ticket's pending SLA warnings and escalations, soonest first."""
    rows = as_json(cli("reminders", "list", "--status", "pending", "--json")[1])
    found: dict[str, list[str]] = {}
    for r in rows:
        if r["ticket"] == number and r["kind"].startswith("sla_"):
            assert r["due_at"].startswith("2026-03-") and r["due_at"].endswith("+08:00")
            found.setdefault(r["kind"], []).append(f"{r['due_at'][8:10]} {r['due_at'][11:19]}")
    return found


def show(cli: Run, number: str) -> dict:
    return as_json(cli("tickets", "show", number, "--json")[1])


def test_a_new_tier_moves_open_tickets_and_their_reminders(cli: Run, tmp_path: Path) -> None:
    mill_8x5 = "Mill Co,ann@mill.example.com,mill.example.com,,8x5,boss@support.example,Asia/Shanghai"
    assert import_csv(cli, tmp_path, HEADER, mill_8x5)[1] == summary(0)
    opened, resolved = question(cli, tmp_path, "Board alarm"), question(cli, tmp_path, "Shelf alarm")
    cli("tickets", "resolve", resolved, "--at", "2026-03-02T11:00:00+08:00")
    cli("jobs", "run-due", "--now", RECEIVED)
    before = show(cli, opened)
    assert (before["tier"], before["severity"], before["resolve_due"]) == ("8x5", 3, "2026-03-04T17:00:00+08:00")
    # at 75% in business time: response 2 h, on site by Tuesday's close (16 h), restored in 24 business hours
    assert pending(cli, opened) == {"sla_warning": ["02 11:30:00", "03 13:30:00", "04 11:00:00"],
                                    "sla_escalation": ["02 12:00:00", "03 17:30:00", "04 17:00:00"]}

    code, out, _ = import_csv(cli, tmp_path, HEADER, mill_8x5.replace("8x5", "24x7"))
    assert (code, out) == (0, summary(1))
    after = show(cli, opened)
    assert (after["tier"], after["response_due"], after["onsite_due"], after["resolve_due"]) == (
        "24x7", "2026-03-02T12:00:00+08:00", "2026-03-03T17:30:00+08:00", "2026-03-03T10:00:00+08:00")
    assert after["sla"]["resolve"]["due"] == "2026-03-03T10:00:00+08:00"
    # the same jobs, moved to the wall clock: 75% of 2 h, of 31.5 h and of 24 h
    assert pending(cli, opened) == {"sla_warning": ["02 11:30:00", "03 04:00:00", "03 09:37:30"],
                                    "sla_escalation": ["02 12:00:00", "03 10:00:00", "03 17:30:00"]}
    assert pending(cli, resolved) == {}
    kept = show(cli, resolved)
    assert (kept["tier"], kept["resolve_due"], kept["status"]) == ("8x5", "2026-03-04T17:00:00+08:00", "resolved")


def test_a_customers_own_warn_share_moves_its_warnings(cli: Run, tmp_path: Path) -> None:
    mill = "Mill Co,ann@mill.example.com,mill.example.com,,24x7,,Asia/Shanghai"
    import_csv(cli, tmp_path, HEADER, mill)
    number = question(cli, tmp_path, "Board alarm")
    cli("jobs", "run-due", "--now", RECEIVED)
    at_75 = {"sla_warning": ["02 11:30:00", "03 04:00:00", "03 09:37:30"],
             "sla_escalation": ["02 12:00:00", "03 10:00:00", "03 17:30:00"]}
    assert pending(cli, number) == at_75

    code, out, _ = import_csv(cli, tmp_path, f"{HEADER},policy_overrides",
                              f'{mill},"{{""sla"": {{""warn_share"": 0.5}}}}"')
    assert (code, out) == (0, summary(1))
    at_50 = {"sla_warning": ["02 11:00:00", "02 22:00:00", "03 01:45:00"], "sla_escalation": at_75["sla_escalation"]}
    assert pending(cli, number) == at_50  # the deadlines stay, the warnings come at half time
    customer, = as_json(cli("customers", "list", "--json")[1])
    assert customer["policy_overrides"] == {"sla": {"warn_share": 0.5}}

    assert import_csv(cli, tmp_path, HEADER, mill)[1] == summary(0)  # no column: kept
    assert pending(cli, number) == at_50
    code, out, err = import_csv(cli, tmp_path, f"{HEADER},policy_overrides", f'{mill},"{{""sla"": 1}}"')
    assert code == 1 and "line 2: policy_overrides:" in err and out.startswith("imported 0 customer(s)")
    assert import_csv(cli, tmp_path, f"{HEADER},policy_overrides", f"{mill},")[1] == summary(1)  # an empty
    # cell clears them
    assert pending(cli, number) == at_75


HUADONG = "华东电力,zhang.wei@huadong-power.cn,huadong-power.cn,,24x7,li.jun@support.example,Asia/Shanghai"


def escalations(cli: Run, number: str) -> set[str]:
    """Who the ticket's pending SLA escalations go to."""
    rows = as_json(cli("reminders", "list", "--status", "pending", "--json")[1])
    return {r["recipient"] for r in rows if r["ticket"] == number and r["kind"] == "sla_escalation"}


def test_an_import_links_the_open_tickets_its_customer_sent_before(cli: Run, tmp_path: Path) -> None:
    outage = question(cli, tmp_path, "Core switch down", "zhang.wei@huadong-power.cn")
    waiting = question(cli, tmp_path, "Board alarm", "wang.fang@huadong-power.cn")  # known by the domain
    resolved = question(cli, tmp_path, "Shelf alarm", "zhang.wei@huadong-power.cn")
    stranger = question(cli, tmp_path, "Fan alarm")
    cli("tickets", "wait", waiting, "--at", "2026-03-02T10:30:00+08:00")
    cli("tickets", "resolve", resolved, "--at", "2026-03-02T10:45:00+08:00")
    cli("jobs", "run-due", "--now", RECEIVED)
    before = show(cli, outage)
    assert (before["customer"], before["tier"], before["response_due"]) == (None, "8x5", "2026-03-02T10:15:00+08:00")
    assert escalations(cli, outage) == {"service@support.example"}  # nobody's manager: the fallback

    assert import_csv(cli, tmp_path, HEADER, HUADONG) == (0, summary(2, linked=2), "")
    after = show(cli, outage)
    assert (after["customer"], after["tier"], after["response_due"], after["resolve_due"]) == (
        "华东电力", "24x7", "2026-03-02T10:15:00+08:00", "2026-03-02T14:00:00+08:00")
    assert escalations(cli, outage) == {"li.jun@support.example"}  # the regional manager's now
    assert (show(cli, waiting)["customer"], show(cli, waiting)["tier"]) == ("华东电力", "24x7")
    assert (show(cli, resolved)["customer"], show(cli, resolved)["tier"]) == (None, "8x5")
    assert (show(cli, stranger)["customer"], show(cli, stranger)["tier"]) == (None, "8x5")
    assert import_csv(cli, tmp_path, HEADER, HUADONG)[1] == summary(0)  # once


def test_a_gbk_file_from_excel(cli: Run, tmp_path: Path) -> None:
    code, out, err = import_csv(cli, tmp_path, HEADER, HUADONG, encoding="gbk")
    assert (code, out, err) == (0, summary(0), f"{tmp_path / 'customers.csv'}: not UTF-8, read as GB18030\n")
    customer, = as_json(cli("customers", "list", "--json")[1])
    assert (customer["name"], customer["emails"]) == ("华东电力", ["zhang.wei@huadong-power.cn"])


def test_a_utf8_file_with_a_bom_and_a_big5_file(cli: Run, tmp_path: Path) -> None:
    assert import_csv(cli, tmp_path, "\ufeff" + HEADER, HUADONG) == (0, summary(0), "")
    code, _, err = import_csv(cli, tmp_path, HEADER, "台灣電力公司,,taipower.example.tw,,8x5,,Asia/Taipei",
                              encoding="big5")
    assert (code, err) == (0, f"{tmp_path / 'customers.csv'}: not UTF-8, read as BIG5\n")
    assert [c["name"] for c in as_json(cli("customers", "list", "--json")[1])] == ["华东电力", "台灣電力公司"]


def test_a_file_in_no_encoding_we_read(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(HEADER.encode() + b"\r\nMill\x80\xff,,,,8x5,,\r\n")
    code, out, err = cli("customers", "import", str(path))
    assert (code, out) == (2, "")
    assert err == (f"intake: cannot read {path}: not UTF-8, GB18030 or Big5 text "
                   "(UTF-8 stops at byte 0x80, offset 60)\n")


def test_the_table_shows_contacts_as_people_write_them(cli: Run, tmp_path: Path) -> None:
    import_csv(cli, tmp_path, HEADER, "Mill Co,ann@mill.example.com;bob@mill.example.com,mill.example.com,"
                                      "+86 21 5555 0100,8x5,,Asia/Shanghai")
    code, out, _ = cli("customers", "list")
    assert code == 0 and "ann@mill.example.com, bob@mill.example.com  mill.example.com  +862155550100" in out
    assert "[" not in out
    customer, = as_json(cli("customers", "list", "--json")[1])
    assert customer["emails"] == ["ann@mill.example.com", "bob@mill.example.com"]
