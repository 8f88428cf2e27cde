"""Guess whether a question is English or Chinese, to pick g1's prompt and sampling.

Only two languages matter here (the tutorials' two prompts), so the rule is a ratio: the
share of CJK ideographs among the letters of the question. One Chinese character carries
about as much as a short English word, so a modest share already means a Chinese question
("strawberry中有多少个字母r?" is Chinese; "What does 你好 mean?" is English).
"""

from __future__ import annotations

LANGS = ("en", "zh")
#: What a user may ask for (``--lang``, the ``lang`` setting): a language, or detection.
LANG_CHOICES = ("auto", *LANGS)

#: Share of CJK characters among letters above which a question counts as Chinese.
ZH_THRESHOLD = 0.2


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x20000 <= code <= 0x2FA1F  # extensions B.. and compatibility supplement
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
    )


def cjk_ratio(text: str) -> float:
    """Share of CJK ideographs among the alphabetic characters of ``text`` (0.0 when none)."""
    cjk = letters = 0
    for ch in text:
        if _is_cjk(ch):
            cjk += 1
            letters += 1
        elif ch.isalpha():
            letters += 1
    return cjk / letters if letters else 0.0


def detect_lang(text: str) -> str:
    """``"zh"`` when the question reads as Chinese, else ``"en"``."""
    return "zh" if cjk_ratio(text) > ZH_THRESHOLD else "en"


def normalize_lang(lang: str | None, question: str) -> str:
    """The language to use: ``lang`` when given (``en``/``zh``, any case), else detected.

    Raises ValueError for anything else, so a typo in ``--lang`` is one clear line.
    """
    if lang is None or not lang.strip():
        return detect_lang(question)
    value = lang.strip().lower()
    if value.startswith("zh") or value in ("cn", "chinese"):
        return "zh"
    if value.startswith("en") or value == "english":
        return "en"
    raise ValueError(f"unknown language {lang!r}: use one of {', '.join(LANGS)}")
