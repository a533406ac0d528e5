"""ticket_ref, strip_subject_prefixes and thread_ids."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.records import ParsedMail
from pipeline.triage import reply

REFS = [
    # (subject, prefix, ticket)
    ("[SR-000042] 服务器宕机", "SR", "SR-000042"),
    ("Re: [SR-000042] 服务器宕机", "SR", "SR-000042"),
    ("RE: RE: [SR-000042] Router down", "SR", "SR-000042"),
    ("回复：【SR-000042】服务器宕机", "SR", "SR-000042"),
    ("答复: [SR-000042] 服务器宕机", "SR", "SR-000042"),
    ("回覆：[SR-000042] 伺服器當機", "SR", "SR-000042"),
    ("Fwd: FW: 转发: 轉寄： [SR-000042] x", "SR", "SR-000042"),
    ("关于SR-000042的问题", "SR", "SR-000042"),
    ("sr-42 still open", "SR", "SR-000042"),
    ("SR 000042", "SR", "SR-000042"),
    ("SR000042", "SR", "SR-000042"),
    ("ＳＲ－０００１２３ 全角", "SR", "SR-000123"),
    ("[SR-1234567] big numbers", "SR", "SR-1234567"),
    ("Re: [SR-000042] Fwd: [SR-000017]", "SR", "SR-000042"),  # the leftmost
    ("[CS-000042] other prefix", "CS", "CS-000042"),
    ("[CS-000042] other prefix", "SR", None),
    ("SR 2 fibres cut", "SR", None),  # a space needs six digits
    ("USR-000042", "SR", None),  # word edge before
    ("SR-000042abc", "SR", None),  # word edge after
    ("服务器宕机", "SR", None),
    ("", "SR", None),
]


@pytest.mark.parametrize(("subject", "prefix", "ticket"), REFS)
def test_ticket_ref(subject: str, prefix: str, ticket: str | None) -> None:
    assert reply.ticket_ref(subject, prefix) == ticket


STRIPPED = [
    ("Re: 服务器宕机", "服务器宕机"),
    ("RE: Re: re:  Router down", "Router down"),
    ("回复：答复: 回覆：服务器宕机", "服务器宕机"),
    ("Fwd: FW: 转发：轉寄: 設備故障", "設備故障"),
    ("AW: WG: SV: VS: TR: RV: Antw: Störung", "Störung"),
    ("Re[2]: RE(3): x", "x"),
    ("Re: [SR-000042] 服务器宕机", "服务器宕机"),
    ("回复：【SR-000042】服务器宕机，请尽快处理", "服务器宕机，请尽快处理"),  # full-width text is kept
    ("[SR-000042] Re: x", "x"),
    ("Report: monthly", "Report: monthly"),  # "Re" only with its colon
    ("自动答复: 服务器宕机", "自动答复: 服务器宕机"),  # an out-of-office marker is not a reply marker
    ("[CS-000042] x", "[CS-000042] x"),  # only our own tag
    ("", ""),
]


@pytest.mark.parametrize(("subject", "stripped"), STRIPPED)
def test_strip_subject_prefixes(subject: str, stripped: str) -> None:
    assert reply.strip_subject_prefixes(subject) == stripped


def test_strip_subject_prefixes_other_ticket_prefix() -> None:
    assert reply.strip_subject_prefixes("Re: [CS-000042] x", ticket_prefix="CS") == "x"


@pytest.mark.parametrize(
    ("in_reply_to", "references", "ids"),
    [
        (("<a@vendor.example>",), ("<r1@x>", "<r2@x>", "<a@vendor.example>"), ("a@vendor.example", "r1@x", "r2@x")),
        ((), ("r1@x", " <r2@x> "), ("r1@x", "r2@x")),
        (("a@x",), (), ("a@x",)),
        (("<>", ""), (), ()),
        ((), (), ()),
    ],
)
def test_thread_ids(
    in_reply_to: tuple[str, ...],
    references: tuple[str, ...],
    ids: tuple[str, ...],
    mail_factory: Callable[..., ParsedMail],
) -> None:
    mail = mail_factory(in_reply_to=in_reply_to, references=references)
    assert reply.thread_ids(mail) == ids
