"""detect_language: exact answers for the tricky cases, and accuracy over fixtures/language/texts.jsonl."""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

import pytest

from pipeline.triage import language, quotes

TEXTS = Path(__file__).parents[2] / "fixtures" / "language" / "texts.jsonl"
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

CASES = [
    # (text, fallback, expected)
    ("您好，我的订单一直没有发货，请问什么时候能到？", "", "zh-Hans"),
    ("您好，我的訂單一直沒有發貨，請問什麼時候能到？", "", "zh-Hant"),
    ("謝謝", "", "zh-Hant"),  # langdetect says "ko" here
    ("谢谢", "", "zh-Hans"),
    ("你好", "", "zh-Hans"),  # no evidence either way
    ("发票 invoice 發票", "", "zh-Hans"),  # a tie
    ("我哋冇收到你嘅貨", "", "zh-Hant"),
    ("唔該晒！", "", "zh-Hant"),  # tie broken by Cantonese characters
    ("好", "", "zh-Hans"),  # one Han character and nothing else
    ("服务器宕机了，请尽快处理。\n\nBest regards,\nJohn Smith\nNetwork Engineer\nACME Corp", "", "zh-Hans"),
    ("Please contact 张伟 at our Shanghai office about the router.", "", "en"),
    ("我们的ソニー摄像机坏了，请派工程师来看一下", "", "zh-Hans"),  # a katakana brand name
    ("お世話になっております。ルーターが故障しました。", "", "ja"),
    ("라우터가 작동하지 않습니다", "", "ko"),
    ("Góðan daginn, beinirinn okkar er niðri.", "", "is"),
    ("Rofinn í kjallaranum slekkur á sér nokkrum sinnum á dag.", "", "is"),  # no þ/ð
    ("Καλημέρα, ο δρομολογητής δεν λειτουργεί", "", "el"),
    ("Здравствуйте, у нас не работает коммутатор с утра.", "", "ru"),
    ("Der Router ist seit heute Morgen nicht erreichbar.", "", "de"),
    ("The router is down since this morning.", "", "en"),
    ("ok thanks", "", "en"),
    ("", "", "en"),
    ("", "回复：服务器宕机", "zh-Hans"),  # empty body: the subject decides
    ("12345 !!!", "", "en"),  # no letters
    ("https://example.com/status", "服務中斷", "zh-Hant"),  # langdetect finds nothing: fallback
    ("Danke!", "", "en"),  # too short for langdetect to be sure
    ("Danke!", "Router im Keller ist seit heute Morgen nicht mehr erreichbar", "de"),
]


@pytest.mark.parametrize(("text", "fallback", "expected"), CASES)
def test_detect_language(text: str, fallback: str, expected: str) -> None:
    assert language.detect_language(text, fallback) == expected


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("您好，我的訂單一直沒有發貨，請問什麼時候能到？", (0, 9)),
        ("您好，我的订单一直没有发货，请问什么时候能到？", (9, 0)),
        ("謝謝", (0, 2)),
        ("我们", (1, 0)),
        ("你好", (0, 0)),
        ("着急 峰会", (1, 0)),  # 着 and 峰 are no evidence (one Traditional standard keeps them); 会 is
    ],
)
def test_form_counts(text: str, counts: tuple[int, int]) -> None:
    assert language.form_counts(text) == counts


def load_texts() -> list[dict[str, str]]:
    with TEXTS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_text_set_is_large_and_varied() -> None:
    rows = load_texts()
    languages = {row["lang"] for row in rows}
    assert len(rows) >= 200
    assert {"zh-Hans", "zh-Hant", "en", "is", "de", "fr", "es", "ja", "ko", "ru", "vi"} <= languages


def test_accuracy_over_text_set() -> None:
    rows = load_texts()
    language.detect_language("Der Router ist seit heute Morgen nicht erreichbar")  # load langdetect profiles
    language.detect_language("服务器宕机")  # load zhconv's tables
    wrong: list[tuple[str, str, str]] = []
    confused: list[tuple[str, str, str]] = []
    timings: list[float] = []
    for row in rows:
        words = quotes.customer_words(row["text"])
        started = time.perf_counter()
        found = language.detect_language(words)
        timings.append(time.perf_counter() - started)
        if found != row["lang"]:
            wrong.append((row["lang"], found, row["text"][:40]))
            chinese = {found, row["lang"]} == {"zh-Hans", "zh-Hant"}
            if chinese and len(HAN.findall(words)) >= 20:
                confused.append((row["lang"], found, row["text"][:40]))
    accuracy = 1 - len(wrong) / len(rows)
    print(
        f"\nlanguage: {len(rows) - len(wrong)}/{len(rows)} right, accuracy {accuracy:.1%}, "
        f"median {statistics.median(timings) * 1000:.3f} ms per message"
    )
    assert confused == []
    assert accuracy >= 0.98, wrong
