"""Customers and the contacts we recognise them by; the CSV import of `intake customers import`.

Besides the columns of HEADER a file may have a `policy_overrides` column: a JSON object shaped like the
service policy ({"levels": {"1": {"resolve": "2h"}}, "sla": {"warn_share": 0.5}}) that replaces the
department's values for that customer. An empty cell clears them; a file without the column keeps them.

The file may be UTF-8 (with or without the BOM Excel writes), GB18030 (which covers GBK and GB2312: what
Excel in mainland China saves as "CSV") or Big5 (Taiwan, Hong Kong), tried in that order (decode_csv).
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pipeline.errors import ConfigError
from pipeline.sla import deadlines
from pipeline.store import models

HEADER = ("name", "emails", "domains", "phones", "tier", "manager_email", "timezone")
OVERRIDES = "policy_overrides"  # optional column
TIERS = ("24x7", "8x5")


def decode_csv(data: bytes) -> tuple[str, str]:
    """The text of a customers file and the codec that read it: UTF-8 (with or without BOM), else GB18030,
    else Big5. Nearly every Big5 file is also valid GB18030, read wrongly: GB18030 gives way to Big5 when
    its reading shows the signs of that (see _misread) and Big5 reads every byte. ValueError when neither
    reads the file."""
    try:
        return data.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError as exc:
        not_utf8 = exc
    gb18030, big5 = _decoded(data, "gb18030"), _decoded(data, "big5")
    if gb18030 is not None and (big5 is None or not _misread(gb18030)):
        return gb18030.removeprefix("\ufeff"), "gb18030"  # GB18030 has a BOM of its own
    if big5 is not None:
        return big5, "big5"
    raise ValueError(f"not UTF-8, GB18030 or Big5 text (UTF-8 stops at byte 0x{data[not_utf8.start]:02x}, "
                     f"offset {not_utf8.start})")


def _decoded(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _misread(text: str) -> bool:
    """Big5 read as GB18030 shows private-use characters (GB18030's user-defined areas cover much of Big5's
    first rows: 一 人 台) or kana (GBK keeps hiragana where Big5 has 中 文), which a Chinese file has not."""
    return any(unicodedata.category(ch) == "Co" or "\u3040" <= ch <= "\u30ff" for ch in text)


def normalise_phone(value: str, region: str = "CN") -> str | None:
    """E.164 for a phone number as people write it (+86 138 0013 8000, 021-5555 0100, 13800138000)."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class CustomerRow:
    name: str
    emails: tuple[str, ...]
    domains: tuple[str, ...]
    phones: tuple[str, ...]
    tier: str
    manager_email: str | None
    timezone: str
    policy_overrides: dict[str, Any] | None = None
    sets_overrides: bool = False  # the file has the column (an empty cell clears the overrides)


def _values(cell: str | None) -> list[str]:
    return [v.strip() for v in (cell or "").split(";") if v.strip()]


def parse_overrides(cell: str | None, service: deadlines.ServicePolicy | None = None) -> dict[str, Any] | None:
    """A policy_overrides cell: None when empty, else a JSON object the policy accepts (checked against
    `service` when given); ValueError says what is wrong."""
    text = (cell or "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{OVERRIDES}: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise ValueError(f'{OVERRIDES}: expected a JSON object such as {{"sla": {{"warn_share": 0.5}}}}')
    if service is not None:
        try:
            service.with_overrides(value)
        except ConfigError as exc:
            raise ValueError(f"{OVERRIDES}: {exc}") from None
    return value or None


def parse_row(row: dict[str, str | None], default_timezone: str,
              service: deadlines.ServicePolicy | None = None) -> CustomerRow:
    """One CSV row, checked; ValueError says what is wrong with it."""
    name = (row.get("name") or "").strip()
    if not name:
        raise ValueError("name is empty")
    tier = (row.get("tier") or "").strip()
    if tier not in TIERS:
        raise ValueError(f"tier {tier!r} is not one of {', '.join(TIERS)}")
    emails = [e.lower() for e in _values(row.get("emails"))]
    for email in emails:
        if email.count("@") != 1:
            raise ValueError(f"{email!r} is not an e-mail address")
    phones = []
    for phone in _values(row.get("phones")):
        e164 = normalise_phone(phone)
        if e164 is None:
            raise ValueError(f"{phone!r} is not a phone number")
        phones.append(e164)
    zone = (row.get("timezone") or "").strip() or default_timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    manager = (row.get("manager_email") or "").strip().lower() or None
    domains = [d.lower().lstrip("@") for d in _values(row.get("domains"))]
    sets_overrides = OVERRIDES in row
    overrides = parse_overrides(row.get(OVERRIDES), service) if sets_overrides else None
    return CustomerRow(name, tuple(emails), tuple(domains), tuple(phones), tier, manager, zone, overrides,
                       sets_overrides)


def read_csv(lines: Iterable[str], default_timezone: str,
             service: deadlines.ServicePolicy | None = None) -> tuple[list[CustomerRow], list[str]]:
    """Good rows and one error line per bad row (with its line number in the file). Give the service
    policy to check the policy_overrides column against it."""
    reader = csv.DictReader(lines)
    missing = [column for column in HEADER if column not in (reader.fieldnames or [])]
    if missing:
        return [], [f"line 1: the header lacks {', '.join(missing)} (expected {','.join(HEADER)})"]
    good, errors = [], []
    for row in reader:
        try:
            good.append(parse_row(row, default_timezone, service))
        except ValueError as exc:
            errors.append(f"line {reader.line_num}: {exc}")
    return good, errors


def upsert(session: Session, row: CustomerRow, now: datetime) -> models.Customer:
    """Create the customer or replace its details and contacts (imports are repeatable)."""
    customer = session.scalar(select(models.Customer).where(models.Customer.name == row.name))
    if customer is None:
        customer = models.Customer(name=row.name, created_at=now, tier=row.tier, timezone=row.timezone)
        session.add(customer)
    customer.tier, customer.manager_email, customer.timezone = row.tier, row.manager_email, row.timezone
    if row.sets_overrides:
        customer.policy_overrides = row.policy_overrides
    session.flush()
    session.execute(delete(models.Contact).where(models.Contact.customer_id == customer.id))
    contacts = [("email", v) for v in row.emails] + [("domain", v) for v in row.domains] + [
        ("phone", v) for v in row.phones]
    for kind, value in dict.fromkeys(contacts):
        # a contact belongs to one customer: the latest import wins
        session.execute(delete(models.Contact).where(models.Contact.kind == kind, models.Contact.value == value))
        session.add(models.Contact(customer_id=customer.id, kind=kind, value=value))
    session.flush()
    return customer


def sla_terms(customer: models.Customer) -> tuple[str, dict[str, Any] | None]:
    """What a customer's deadlines depend on besides the ticket itself: its tier and policy overrides."""
    return customer.tier, customer.policy_overrides or None


@dataclass(frozen=True)
class Imported:
    """The customers an import wrote (each once, in file order) and those among them that existed before
    and whose SLA terms changed: their open tickets need new deadlines (service.follow_customer)."""

    customers: list[models.Customer] = field(default_factory=list)
    changed: list[models.Customer] = field(default_factory=list)


def import_rows(session: Session, rows: Iterable[CustomerRow], now: datetime) -> Imported:
    """Upsert every row in the caller's transaction."""
    before: dict[str, tuple[str, dict[str, Any] | None] | None] = {}
    imported: dict[str, models.Customer] = {}
    for row in rows:
        if row.name not in before:
            known = session.scalar(select(models.Customer).where(models.Customer.name == row.name))
            before[row.name] = sla_terms(known) if known is not None else None
        imported[row.name] = upsert(session, row, now)
    changed = [customer for name, customer in imported.items()
               if before[name] is not None and sla_terms(customer) != before[name]]
    return Imported(list(imported.values()), changed)
