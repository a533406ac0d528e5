"""The customers CSV: the encodings it may come in, its optional policy_overrides column, and which re-imports
change a customer's SLA terms."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from pipeline.runtime import Runtime
from pipeline.sla import deadlines
from pipeline.store import db, models
from pipeline.tickets import customers
from tests.sla.helpers import SERVICE_TOML, SHANGHAI, at, load_toml

HEADER = "name,emails,domains,phones,tier,manager_email,timezone"


@pytest.fixture(scope="module")
def department() -> deadlines.ServicePolicy:
    return deadlines.ServicePolicy.from_policy(load_toml(SERVICE_TOML), SHANGHAI)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("", None),
        ("  ", None),
        ("{}", None),
        ('{"sla": {"warn_share": 0.5}}', {"sla": {"warn_share": 0.5}}),
        ('{"levels": {"1": {"resolve": "2h"}}}', {"levels": {"1": {"resolve": "2h"}}}),
    ],
)
def test_overrides_cell(department: deadlines.ServicePolicy, cell: str, expected: dict[str, Any] | None) -> None:
    assert customers.parse_overrides(cell, department) == expected


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("{sla", "policy_overrides: not JSON (Expecting property name enclosed in double quotes at column 2)"),
        ("[0.5]", "policy_overrides: expected a JSON object"),
        ('{"calendar": {"extra_holidays": []}}', "policy_overrides: customer overrides: ['calendar'] cannot differ"),
        ('{"levels": {"1": {"resolve": "2 hours"}}}', "policy_overrides: levels.1.resolve: bad duration '2 hours'"),
        ('{"sla": {"warn_share": 2}}', "policy_overrides: sla.warn_share: 2 must be a number in (0, 1]"),
        ('{"levels": {"1": "2h"}}', "policy_overrides: customer overrides: levels.1: expected a table"),
    ],
)
def test_bad_overrides_cell_says_why(department: deadlines.ServicePolicy, cell: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        customers.parse_overrides(cell, department)
    assert str(caught.value).startswith(message)


def test_the_column_is_optional(department: deadlines.ServicePolicy) -> None:
    plain, errors = customers.read_csv([f"{HEADER}\n", "Mill Co,,,,8x5,,\n"], "Asia/Shanghai", department)
    assert errors == [] and (plain[0].sets_overrides, plain[0].policy_overrides) == (False, None)
    rows, errors = customers.read_csv([
        f"{HEADER},policy_overrides\n",
        'Mill Co,,,,8x5,,,"{""sla"": {""warn_share"": 0.5}}"\n',
        "Plant,,,,24x7,,,\n",
        'Broken,,,,24x7,,,"{""sla"": {""warn_share"": 0}}"\n',
    ], "Asia/Shanghai", department)
    assert [(r.name, r.sets_overrides, r.policy_overrides) for r in rows] == [
        ("Mill Co", True, {"sla": {"warn_share": 0.5}}), ("Plant", True, None)]
    assert errors == ["line 4: policy_overrides: sla.warn_share: 0 must be a number in (0, 1], e.g. 0.75"]


def row(name: str, tier: str, overrides: dict[str, Any] | None = None, *, sets: bool = True) -> customers.CustomerRow:
    return customers.CustomerRow(name, (), (), (), tier, None, "Asia/Shanghai", overrides, sets)


def imported(rt: Runtime, *rows: customers.CustomerRow) -> list[str]:
    """The names of the customers whose terms changed."""
    with db.transaction(rt.sessions) as session:
        return [c.name for c in customers.import_rows(session, rows, at("2026-03-02 09:00")).changed]


def test_import_names_the_customers_whose_terms_changed(runtime: Runtime) -> None:
    half = {"sla": {"warn_share": 0.5}}
    assert imported(runtime, row("Mill Co", "8x5"), row("Plant", "24x7")) == []  # new customers have no tickets
    assert imported(runtime, row("Mill Co", "8x5"), row("Plant", "24x7")) == []  # the same again: nothing
    assert imported(runtime, row("Mill Co", "24x7"), row("Plant", "24x7", half)) == ["Mill Co", "Plant"]
    assert imported(runtime, row("Plant", "24x7", sets=False)) == []  # a file without the column keeps them
    with runtime.sessions() as session:
        plant = session.scalar(select(models.Customer).where(models.Customer.name == "Plant"))
        assert plant is not None and plant.policy_overrides == half
    assert imported(runtime, row("Plant", "24x7", None)) == ["Plant"]  # an empty cell clears them
    # a customer named twice in one file: what counts is its terms before and after the whole import
    assert imported(runtime, row("Mill Co", "8x5"), row("Mill Co", "24x7")) == []


def test_import_names_every_customer_it_wrote_once(runtime: Runtime) -> None:
    with db.transaction(runtime.sessions) as session:
        result = customers.import_rows(session, [row("Mill Co", "8x5"), row("Plant", "24x7"),
                                                 row("Mill Co", "24x7")], at("2026-03-02 09:00"))
        assert [(c.name, c.tier) for c in result.customers] == [("Mill Co", "24x7"), ("Plant", "24x7")]
        assert result.changed == []


CSV = f"{HEADER}\n华东电力,zhang.wei@huadong-power.cn,,,24x7,,\n"
TAIWAN = f"{HEADER}\n台灣電力公司,chen@taipower.example.tw,,,24x7,,Asia/Taipei\n"


@pytest.mark.parametrize(
    ("data", "text", "codec"),
    [
        (CSV.encode(), CSV, "utf-8-sig"),
        (b"\xef\xbb\xbf" + CSV.encode(), CSV, "utf-8-sig"),  # what Excel writes as "CSV UTF-8"
        (CSV.encode("gbk"), CSV, "gb18030"),  # what Excel in mainland China writes as "CSV"
        (CSV.encode("gb2312"), CSV, "gb18030"),
        ((CSV + "𠀀,,,,8x5,,\n").encode("gb18030"), CSV + "𠀀,,,,8x5,,\n", "gb18030"),  # four bytes, beyond GBK
        (b"\x841\x953" + "华东电力".encode("gb18030"), "华东电力", "gb18030"),  # GB18030's own BOM
        (TAIWAN.encode("big5"), TAIWAN, "big5"),  # valid GB18030 too: private-use characters
        ("中華電信".encode("big5"), "中華電信", "big5"),  # ... or as kana: い地筿獺
    ],
)
def test_csv_encodings(data: bytes, text: str, codec: str) -> None:
    assert customers.decode_csv(data) == (text, codec)


def test_a_file_no_encoding_reads_says_where_utf8_stops() -> None:
    with pytest.raises(ValueError) as caught:
        customers.decode_csv(b"name\n\x80\xff")
    assert str(caught.value) == "not UTF-8, GB18030 or Big5 text (UTF-8 stops at byte 0x80, offset 5)"
