"""The public command line (docs/contract.md): every listing as --json, errors as one line."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run, as_json
from tests.conftest import FIXTURES
from tests.mailmaker import make_mail

ZH, EN = str(FIXTURES / "ingest" / "zh-outage.eml"), str(FIXTURES / "ingest" / "en-question.eml")


def test_ingest_then_duplicate(cli: Run) -> None:
    code, out, _ = cli("ingest", ZH, EN, "--json")
    rows = as_json(out)
    assert code == 0
    assert [set(r) for r in rows] == [{"source", "status", "ticket", "language", "severity", "reason"}] * 2
    assert [(r["status"], r["language"]) for r in rows] == [("created", "zh-Hans"), ("created", "en")]
    _, out, _ = cli("ingest", ZH, EN, "--json")
    assert [r["status"] for r in as_json(out)] == ["duplicate", "duplicate"]
    _, out, _ = cli("outbox", "list", "--json")
    acks = as_json(out)
    assert sorted(a["ticket"] for a in acks) == sorted(r["ticket"] for r in rows)
    assert all(a["ticket"] in a["subject"] and a["status"] == "pending" for a in acks)
    assert {"id", "kind", "ticket", "to", "subject", "language", "status", "due_at", "message_id", "text"} <= set(
        acks[0])


def test_tickets_show_and_changes(cli: Run) -> None:
    _, out, _ = cli("ingest", ZH, "--json", "--received-at", "2026-02-13T17:30:00+08:00")
    number = as_json(out)[0]["ticket"]
    code, out, _ = cli("tickets", "show", number, "--json")
    shown = as_json(out)
    assert code == 0
    assert shown["received_at"] == "2026-02-13T17:30:00+08:00"
    assert shown["severity"] == 1 and shown["channel"] == "email" and shown["language"] == "zh-Hans"
    assert "宕机" in shown["messages"][0]["text"]
    assert cli("tickets", "resolve", number, "--json")[0] == 0
    _, out, _ = cli("tickets", "list", "--json")
    assert as_json(out)[0]["status"] == "resolved"
    _, out, _ = cli("tickets", "reopen", number, "--json")
    assert as_json(out)["status"] == "open"
    _, out, _ = cli("tickets", "severity", number, "4", "--json")
    assert as_json(out)["severity"] == 4


def test_unknown_ticket_is_one_line_on_stderr(cli: Run) -> None:
    code, out, err = cli("tickets", "show", "SR-999999")
    assert code == 3 and out == "" and err.count("\n") == 1 and "SR-999999" in err


def test_bad_setting_stops_with_the_key(cli: Run, monkeypatch) -> None:
    monkeypatch.setenv("INTAKE_SMTP_LISTEN", "nope")
    code, _, err = cli("tickets", "list")
    assert code == 2 and err.startswith("intake: INTAKE_SMTP_LISTEN:")


def test_customers_import_reports_bad_rows_by_line(cli: Run, tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("name,emails,domains,phones,tier,manager_email,timezone\n"
                   "华东电厂,wang@plant.example.cn,plant.example.cn,+86 138 0013 8000;021-5555 0100,24x7,"
                   "boss@support.example,Asia/Shanghai\n"
                   "Broken,,,,9x9,,\n"
                   "Mill Co,ann@mill.example.com,,,8x5,,\n", encoding="utf-8")
    code, out, err = cli("customers", "import", str(csv))
    assert code == 1 and "line 3: tier '9x9'" in err and "imported 2" in out
    _, out, _ = cli("customers", "list", "--json")
    customers = {c["name"]: c for c in as_json(out)}
    assert customers["华东电厂"]["phones"] == ["+8613800138000", "+862155550100"]
    _, out, _ = cli("ingest", ZH, "--json")
    number = as_json(out)[0]["ticket"]
    _, out, _ = cli("tickets", "show", number, "--json")
    assert as_json(out)["customer"] == "华东电厂" and as_json(out)["tier"] == "24x7"


def test_quarantine_list_and_retry(cli: Run, tmp_path: Path) -> None:
    huge = tmp_path / "huge.eml"
    huge.write_bytes(make_mail("big", "x" * 5000))
    import os

    os.environ["INTAKE_MAX_MESSAGE_BYTES"] = "1000"
    try:
        _, out, _ = cli("ingest", str(huge), "--json")
    finally:
        del os.environ["INTAKE_MAX_MESSAGE_BYTES"]
    row, = as_json(out)
    assert row["status"] == "quarantined" and row["reason"]
    _, out, _ = cli("quarantine", "list", "--json")
    item, = as_json(out)
    assert {"id", "source", "reason", "received_at"} <= set(item)
    code, out, _ = cli("quarantine", "retry", str(item["id"]), "--json")
    assert code == 0 and as_json(out)["status"] == "created"
    _, out, _ = cli("quarantine", "list", "--json")
    assert as_json(out) == []


def test_outbox_send_writes_eml(cli: Run, tmp_path: Path) -> None:
    cli("ingest", EN)
    code, out, _ = cli("outbox", "send", "--json")
    assert code == 0 and [o["status"] for o in as_json(out)] == ["sent"]
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 1


def test_triage_writes_nothing(cli: Run, tmp_path: Path) -> None:
    code, out, _ = cli("triage", ZH, "--json")
    row, = as_json(out)
    assert code == 0 and row["language"] == "zh-Hans" and row["severity"] == 1 and row["automatic"] is None
    assert not (tmp_path / "var" / "intake.db").exists()
