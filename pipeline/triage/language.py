"""Which language a customer wrote in: "zh-Hans", "zh-Hant", "en", or another ISO 639-1 code.

Cheap evidence first, langdetect last (domain.md §3):

1. Script counts over the first few hundred characters. Kana means Japanese, Hangul Korean, and
   Greek, Thai, Hebrew, Georgian and Armenian letters name their language. Han characters that
   make up a meaningful share of the letters mean Chinese, even with an English signature or a
   quoted English line left over: a Han character carries about as much as three or four Latin
   letters.
2. Simplified or Traditional by character forms: zhconv converts the text to zh-Hans, zh-TW and
   zh-HK; a character that zh-Hans changes is Traditional evidence, one that zh-Hans keeps but
   both zh-TW and zh-HK change is Simplified evidence (so 峰, 着 and 台, which one Traditional
   standard keeps, are no evidence). Ties and texts without evidence ("你好") are zh-Hans, unless
   Cantonese characters (嘅, 咗, 唔...) show a Hong Kong writer. The Chinese path never calls langdetect.
3. Latin text: "þ"/"ð" mean Icelandic (langdetect has no Icelandic profile, and reads Icelandic as
   Norwegian or Danish, which acute vowels without ø/å/ä then correct); plain-ASCII text in
   which English function words are frequent is English (saves 2-10 ms of langdetect per mail).
4. langdetect, seeded, on at most a few hundred characters, for everything else. Text with fewer
   than a dozen letters, unsure results on short text and LangDetectException leave the decision to
   the fallback text (the subject), then to "en".
"""

from __future__ import annotations

import re

import zhconv
from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

from pipeline.triage import forms

DetectorFactory.seed = 0  # langdetect is random without a seed; set before its first use

DEFAULT = "en"
SCAN_CHARS = 600  # script counts look at this much of the text
LANGDETECT_CHARS = 300  # langdetect cost grows with text; this much decides a language
CHINESE_MIN_SHARE = 0.2  # Han characters among all letters
CHINESE_MIN_HAN = 2  # ...and at least this many, unless the text has no other letters at all
KANA_MIN_SHARE = 0.2  # kana among Han + kana: Chinese text may quote a Japanese name
ENGLISH_MIN_SHARE = 0.15  # English function words among words, for the English short cut
LANGDETECT_MIN_LETTERS = 12  # fewer letters ("alarm", "Danke!") and langdetect guesses wildly
LANGDETECT_MIN_PROB = 0.9  # below this a short text's guess is not trusted
SHORT_TEXT_LETTERS = 40

HAN_CLASS = (
    "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002ebef"
    "\U0002f800-\U0002fa1f\U00030000-\U0003134f]"
)
# Script patterns match runs: characters are counted as the lengths of the runs, which costs a
# tenth of one match per character.
_HAN = re.compile(f"{HAN_CLASS}+")
_HAN_SPLIT = re.compile(f"({HAN_CLASS}+)")  # split keeps the runs: text, Han, text, Han...
# Hiragana, katakana (less U+30FB "・", which decoded gb2312 text is full of), phonetic extensions,
# half-width katakana.
_KANA_RANGES = "\u3041-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HANGUL_RANGES = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_KANA = re.compile(f"[{_KANA_RANGES}]+")
_HANGUL = re.compile(f"[{_HANGUL_RANGES}]+")
_KANA_OR_HANGUL = re.compile(f"[{_KANA_RANGES}{_HANGUL_RANGES}]")
_LATIN = re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]+")
_NON_ASCII_LATIN = re.compile("[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
_OWN_SCRIPT_RANGES = (  # scripts used by one language
    ("\u0370-\u03ff", "el"),
    ("\u0e00-\u0e7f", "th"),
    ("\u0590-\u05ff", "he"),
    ("\u10a0-\u10ff", "ka"),
    ("\u0530-\u058f", "hy"),
)
_OWN_SCRIPTS = tuple((re.compile(f"[{ranges}]+"), code) for ranges, code in _OWN_SCRIPT_RANGES)
_ANY_OWN_SCRIPT = re.compile(f"[{''.join(ranges for ranges, _ in _OWN_SCRIPT_RANGES)}]")
_ASCII_LETTER = re.compile("[A-Za-z]")
# Every letter (str.isalpha) is a word character that is not a digit or "_"; a few such characters
# ("²", "Ⅻ") are not letters.
_LETTERISH = re.compile(r"[^\W\d_]+")
_ICELANDIC = re.compile("[þÞðÐ]")
# langdetect reads Icelandic without þ/ð as Norwegian or Danish: acute vowels, which those languages
# hardly use, and no ø/å/ä, which Icelandic never uses, tell it apart.
_NORDIC = frozenset(("no", "da", "sv"))
_ICELANDIC_VOWELS = re.compile("[áíúýóéÁÍÚÝÓÉ]")
_MAINLAND_NORDIC = re.compile("[øåäØÅÄ]")
# Cantonese characters, written in Traditional script in Hong Kong mail. 晒 ("all", 唔該晒) is not
# Simplified evidence there; when the forms are tied, any of these characters says zh-Hant.
_CANTONESE = re.compile("[嘅咗哋啲喺冇嚟睇咩嘢噉嗰佢唔乜咁嘥攞搵諗冚啱嗮晒俾]")
_NOISE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+|[\w.+-]*\d[\w.+-]*")  # addresses, links, numbers
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
# English function words that are not also common words in German, Dutch, the Nordic and Romance
# languages ("in", "a", "die", "was", "will", "also", "an", "am", "at", "for", "i", "me" are left out).
_ENGLISH_TEXT = """
    the and is are were be been being to of with from this that these those it its it's we our us
    you your she they them their there here please thanks thank hello hi dear regards can could
    would should have has had not what when where which who why how after before since but if any
    all some don't can't cannot doesn't isn't didn't won't i'm we're we've you're just still again
    now yes about into out up than then very more ours only because while get got does did until
"""
_ENGLISH_WORDS = frozenset(_ENGLISH_TEXT.split())
_LANGDETECT_CODES = {"zh-cn": "zh-Hans", "zh-tw": "zh-Hant"}


def detect_language(text: str, fallback: str = "") -> str:
    """The language of `text`; `fallback` (e.g. the subject) decides when the text cannot, then "en"."""
    return _detect(text) or (_detect(fallback) if fallback else None) or DEFAULT


def _detect(text: str) -> str | None:
    """The language, or None when the text has no letters or langdetect is unsure."""
    sample = text[:SCAN_CHARS]
    if sample.isascii():
        return _detect_ascii(sample)
    # One split parts Han from the rest; the other scripts are counted in the rest, short in Chinese text.
    pieces = _HAN_SPLIT.split(sample)
    han_text, rest = "".join(pieces[1::2]), "".join(pieces[0::2])
    han = len(han_text)
    kana = hangul = 0
    if _KANA_OR_HANGUL.search(rest):  # rare: one search saves two counts
        kana = _count(_KANA, rest)
        hangul = _count(_HANGUL, rest)
    latin = _count(_LATIN, rest)
    han_letters = han if han_text.isalpha() else sum(map(str.isalpha, han_text))
    other = han_letters + _count_letters(rest) - han - kana - hangul - latin
    letters = han + kana + hangul + latin + max(other, 0)
    if letters == 0:
        return None
    cjk = han + kana + hangul
    if cjk and (cjk >= CHINESE_MIN_HAN or cjk == letters) and cjk >= CHINESE_MIN_SHARE * letters:
        if hangul > han + kana:
            return "ko"
        if kana and kana >= KANA_MIN_SHARE * (han + kana):
            return "ja"
        if han:
            simplified, traditional = _han_form_counts(han_text)
            return "zh-Hant" if traditional > simplified else "zh-Hans"
    if _ANY_OWN_SCRIPT.search(rest):
        for script, code in _OWN_SCRIPTS:
            if _count(script, rest) > letters / 2:
                return code
    if latin > letters / 2:
        if _ICELANDIC.search(rest):
            return "is"
        if is_plain_english(sample):
            return "en"
    return _langdetect(sample)


def _detect_ascii(sample: str) -> str | None:
    """_detect for ASCII text, which has no Han, kana, Hangul or other script, no "þ"/"ð", and whose
    letters are all A-Z and a-z."""
    if not _ASCII_LETTER.search(sample):
        return None  # no letters
    if _has_english_words(sample):
        return "en"
    return _langdetect(sample)


def _count(runs: re.Pattern[str], text: str) -> int:
    """How many characters of `text` are in the runs the pattern finds."""
    return sum(map(len, runs.findall(text)))


def _count_letters(text: str) -> int:
    letterish = "".join(_LETTERISH.findall(text))
    return len(letterish) if letterish.isalpha() else sum(map(str.isalpha, letterish))


def chinese_variant(text: str) -> str:
    """ "zh-Hant" when Traditional character forms outnumber Simplified ones, else "zh-Hans"."""
    simplified, traditional = form_counts(text)
    return "zh-Hant" if traditional > simplified else "zh-Hans"


def form_counts(text: str) -> tuple[int, int]:
    """(Simplified, Traditional) evidence: characters the zhconv round trips change.

    forms.counts gives the same answer from zhconv's tables in a fraction of the time; what follows
    is the definition, run only for the rare text it leaves to zhconv.
    """
    return _han_form_counts("".join(_HAN.findall(text)))


def _han_form_counts(han: str) -> tuple[int, int]:
    counted = forms.counts(han, forms.tables(HAN_CLASS))
    return counted if counted is not None else zhconv_form_counts(han)


def zhconv_form_counts(han: str) -> tuple[int, int]:
    """form_counts' definition on Han characters only: zhconv's conversions, compared place by place."""
    to_hans = zhconv.convert(han, "zh-hans")
    to_tw = zhconv.convert(han, "zh-tw")
    to_hk = zhconv.convert(han, "zh-hk")
    if not len(han) == len(to_hans) == len(to_tw) == len(to_hk):  # a phrase changed length: per character
        to_hans, to_tw, to_hk = (
            [zhconv.convert(char, locale) for char in han] for locale in ("zh-hans", "zh-tw", "zh-hk")
        )
    simplified = traditional = 0
    for char, hans, tw, hk in zip(han, to_hans, to_tw, to_hk, strict=True):
        if hans != char:
            traditional += 1
        elif tw != char and hk != char and char != "晒":
            simplified += 1
    return simplified, traditional


def is_plain_english(text: str) -> bool:
    """ASCII letters only, and English function words are frequent."""
    if _NON_ASCII_LATIN.search(text):
        return False
    return _has_english_words(text)


def _has_english_words(text: str) -> bool:
    words = _WORD.findall(text)
    if not words:
        return False
    hits = sum(map(_ENGLISH_WORDS.__contains__, map(str.lower, words)))
    return hits >= ENGLISH_MIN_SHARE * len(words)


def _langdetect(text: str) -> str | None:
    cleaned = " ".join(_NOISE.sub(" ", text).split())[:LANGDETECT_CHARS]
    letters = sum(1 for char in cleaned if char.isalpha())
    if letters < LANGDETECT_MIN_LETTERS:
        return None
    try:
        best = detect_langs(cleaned)[0]  # loads the profiles on first use (~0.4 s)
    except (LangDetectException, IndexError):
        return None
    if best.prob < LANGDETECT_MIN_PROB and letters < SHORT_TEXT_LETTERS:
        return None  # "ok thanks" -> en 0.86 / af 0.14: too short to trust
    if best.lang in _NORDIC and _ICELANDIC_VOWELS.search(text) and not _MAINLAND_NORDIC.search(text):
        return "is"
    return _LANGDETECT_CODES.get(best.lang, best.lang)
