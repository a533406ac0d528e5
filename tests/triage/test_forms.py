"""forms.counts: zhconv's Simplified/Traditional evidence from its tables, equal to running zhconv."""

from __future__ import annotations

import random
import re

import pytest

from pipeline.triage import forms, language

by_zhconv = language.zhconv_form_counts  # the definition the fast path must agree with


HAN = re.compile(f"{language.HAN_CLASS}+")


def tables() -> forms.Tables:
    return forms.tables(language.HAN_CLASS)


@pytest.mark.parametrize(
    "han",
    [
        "",
        "你好",
        "我们的订单没有发货",
        "我們的訂單沒有發貨",
        "乾隆皇帝",  # a phrase keeps 乾, which alone becomes 干
        "头发很长",
        "信息服务器软件",  # zh-TW phrases (資訊, 伺服器, 軟體)
        "唔該晒",
        "索马里",  # a phrase that grows in zh-TW: compared character by character
        "乒乓球",  # one that shrinks
        "索馬里乒乓球",  # one grows, one shrinks, lengths cancel out: left to zhconv
    ],
)
def test_counts_as_zhconv(han: str) -> None:
    assert (forms.counts(han, tables()) or by_zhconv(han)) == by_zhconv(han)


def test_lengths_that_cancel_out_are_left_to_zhconv() -> None:
    assert forms.counts("索馬里乒乓球", tables()) is None
    assert language.form_counts("索馬里乒乓球") == by_zhconv("索馬里乒乓球")


def test_counts_as_zhconv_on_random_phrases() -> None:
    """Glued phrases from zhconv's own dictionaries, where phrases overlap and compete."""
    phrases = sorted({key for table in tables().conversions for key in table if 1 < len(key) < 6})
    phrases = [phrase for phrase in phrases if HAN.fullmatch(phrase)]
    rng = random.Random(5)
    singles = "的了我们們发發干乾后後面麵着著台臺晒"
    for _ in range(300):
        han = "".join(
            rng.choice(phrases) if rng.random() < 0.7 else rng.choice(singles) for _ in range(rng.randint(1, 12))
        )
        assert language.form_counts(han) == by_zhconv(han), han
