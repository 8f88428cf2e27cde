"""The built-in eval sets: the classic o1 demonstration questions, generated from a seed.

Five kinds, each in English and Chinese, with answers computed here (so always right):

- ``letters``: counting a letter in a word ("How many r in strawberry?");
- ``decimals``: which of two decimals is larger ("9.11 or 9.9?");
- ``arithmetic``: multi-digit multiplication, sums, differences;
- ``dates``: day of the week after N days, of a given date, days between two dates;
- ``word-problems``: short ones (apples, the bat and the ball, speed, sharing, ages, prices).

Every (kind, language) pair is its own stream of questions drawn from
``random.Random("o1tui-eval/<seed>/<kind>/<lang>")`` (string seeds hash with SHA-512, so the
same seed gives the same set in every process and on every machine). A set takes the first
items of its streams, interleaved kind by kind, so ``--limit 5`` still sees every kind, and a
question of ``classic`` is the same question in ``letters`` or ``classic-en``. Each question
ends with a request to state the answer on its own (:data:`ANSWER_FORMAT`), so scoring does
not depend on which number a reply happened to mention last.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from tui.evals.sets import EvalItem, EvalSet
from tui.evals.specs import DEFAULT_SEED

KINDS = ("letters", "decimals", "arithmetic", "dates", "word-problems")
LANGS = ("en", "zh")

_WORDS = (
    "strawberry", "raspberry", "blueberry", "mississippi", "bookkeeper", "committee",
    "occurrence", "necessary", "embarrass", "parallel", "assessment", "balloon", "coffee",
    "banana", "pepper", "address", "success", "possession", "millennium", "accommodate",
    "questionnaire", "tomorrow", "cinnamon", "broccoli", "hippopotamus", "referee",
    "tennessee", "bubble", "grammar", "programming", "engineering", "independence",
    "unnecessary", "abracadabra", "photosynthesis", "cappuccino", "boomerang", "kangaroo",
    "peppermint", "barrister", "currency", "terrarium", "sassafras", "mammoth", "llama",
)  # fmt: skip
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
#: Other Chinese names of each weekday that count as right (周一, 礼拜一; 星期天 for Sunday).
_WEEKDAY_ALIASES_ZH = tuple(
    (f"周{d}", f"礼拜{d}") + (("星期天", "周天", "礼拜天") if d == "日" else ())
    for d in "一二三四五六日"
)


def _weekday(index: int, lang: str) -> tuple[str, tuple[str, ...]]:
    """Gold and accepted alternatives for weekday ``index`` (0 Monday)."""
    if lang == "zh":
        return _WEEKDAYS_ZH[index], (*_WEEKDAY_ALIASES_ZH[index], _WEEKDAYS_EN[index])
    return _WEEKDAYS_EN[index], ()


# --- the generators: one item from a random stream ---------------------------------------

Generator = Callable[[random.Random, str], EvalItem]


def _item(question: str, answer: object, accept: tuple[str, ...] = ()) -> EvalItem:
    return EvalItem(question=question, answer=str(answer), accept=accept)


def gen_letters(rng: random.Random, lang: str) -> EvalItem:
    word = rng.choice(_WORDS)
    repeated = sorted({c for c in word if word.count(c) > 1})
    roll = rng.random()
    if repeated and roll < 0.75:
        letter = rng.choice(repeated)  # the tricky case: a letter that occurs more than once
    elif roll < 0.9:
        letter = rng.choice(sorted(set(word)))
    else:
        letter = rng.choice(sorted(set("abcdefghijklmnopqrstuvwxyz") - set(word)))
    count = word.count(letter)
    if lang == "zh":
        question = f"英文单词“{word}”中有几个字母“{letter}”？"
    elif rng.random() < 0.5:
        question = f'How many times does the letter "{letter}" appear in the word "{word}"?'
    else:
        question = f'How many {letter}\'s are in "{word}"?'
    return _item(question, count)


def gen_decimals(rng: random.Random, lang: str) -> EvalItem:
    whole = rng.randint(0, 20)
    tenths = rng.randint(2, 9)
    if rng.random() < 0.7:
        # The trap: more digits but smaller (9.11 < 9.9).
        two = f"{rng.randint(1, tenths - 1)}{rng.randint(1, 9)}"
    else:
        two = f"{rng.randint(tenths, 9)}{rng.randint(1, 9)}"
    short, long_ = f"{whole}.{tenths}", f"{whole}.{two}"
    larger = short if float(short) > float(long_) else long_
    a, b = (short, long_) if rng.random() < 0.5 else (long_, short)
    if lang == "zh":
        question = f"{a} 和 {b} 哪个更大？"
    else:
        question = rng.choice(("Which is larger, {} or {}?", "Which number is bigger: {} or {}?"))
        question = question.format(a, b)
    return _item(question, larger)


def gen_arithmetic(rng: random.Random, lang: str) -> EvalItem:
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randint(100, 9999), rng.randint(11, 999)
        expr, value = f"{a} × {b}", a * b
    elif kind == 1:
        a, b, c = (rng.randint(1000, 99999) for _ in range(3))
        expr, value = f"{a} + {b} + {c}", a + b + c
    elif kind == 2:
        a, b = rng.randint(10000, 999999), rng.randint(1000, 99999)
        expr, value = f"{a} - {b}", a - b
    else:
        a, b, c = rng.randint(12, 999), rng.randint(12, 99), rng.randint(100, 9999)
        expr, value = f"{a} × {b} - {c}", a * b - c
    question = f"{expr} 等于多少？" if lang == "zh" else f"What is {expr}?"
    return _item(question, value)


def _random_date(rng: random.Random) -> dt.date:
    return dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 35))


def gen_dates(rng: random.Random, lang: str) -> EvalItem:
    kind = rng.randrange(3)
    if kind == 0:
        start, days = rng.randrange(7), rng.randint(10, 400)
        gold, accept = _weekday((start + days) % 7, lang)
        if lang == "zh":
            question = f"如果今天是{_WEEKDAYS_ZH[start]}，{days} 天后是星期几？"
        else:
            question = (
                f"If today is {_WEEKDAYS_EN[start]}, what day of the week will it be "
                f"in {days} days?"
            )
        return _item(question, gold, accept)
    if kind == 1:
        day = _random_date(rng)
        gold, accept = _weekday(day.weekday(), lang)
        if lang == "zh":
            question = f"{day.year}年{day.month}月{day.day}日是星期几？"
        else:
            question = f"What day of the week was {day:%B} {day.day}, {day.year}?"
        return _item(question, gold, accept)
    first = _random_date(rng)
    second = first + dt.timedelta(days=rng.randint(20, 500))
    days = (second - first).days
    if lang == "zh":
        question = (
            f"{second.year}年{second.month}月{second.day}日比{first.year}年{first.month}月"
            f"{first.day}日晚多少天？"
        )
    else:
        question = f"How many days after {first:%B} {first.day}, {first.year} is {second:%B} {second.day}, {second.year}?"
    return _item(question, days)


def gen_word_problem(rng: random.Random, lang: str) -> EvalItem:
    kind = rng.randrange(6)
    if kind == 0:
        a = rng.randint(15, 90)
        b, c = rng.randint(2, a - 1), rng.randint(2, 40)
        zh = f"小明有 {a} 个苹果，给了小红 {b} 个，又买了 {c} 个。小明现在有多少个苹果？"
        en = (
            f"Tom has {a} apples. He gives {b} to Mary and then buys {c} more. "
            "How many apples does Tom have now?"
        )
        return _item(zh if lang == "zh" else en, a - b + c)
    if kind == 1:
        ball_cents, diff = rng.randrange(5, 100, 5), rng.randint(1, 5)
        total = f"{(2 * ball_cents + diff * 100) / 100:.2f}"
        ball = f"{ball_cents / 100:.2f}"
        zh = f"一个球拍和一个球一共 {total} 元，球拍比球贵 {diff} 元。球多少元？"
        en = (
            f"A bat and a ball cost ${total} in total. The bat costs ${diff} more than the "
            "ball. How much does the ball cost, in dollars?"
        )
        return _item(zh if lang == "zh" else en, ball)
    if kind == 2:
        speed, hours = rng.randint(40, 300), rng.randint(2, 9)
        zh = f"一列火车以每小时 {speed} 千米的速度行驶了 {hours} 小时，一共行驶了多少千米？"
        en = (
            f"A train travels at {speed} km/h for {hours} hours. "
            "How many kilometres does it travel?"
        )
        return _item(zh if lang == "zh" else en, speed * hours)
    if kind == 3:
        friends, each = rng.randint(3, 12), rng.randint(3, 25)
        zh = f"{friends} 个朋友平分 {friends * each} 块饼干，每人分到几块？"
        en = (
            f"{friends} friends share {friends * each} cookies equally. "
            "How many cookies does each friend get?"
        )
        return _item(zh if lang == "zh" else en, each)
    if kind == 4:
        age, times, later = rng.randint(4, 14), rng.randint(3, 6), rng.randint(2, 15)
        zh = f"小红今年 {age} 岁，爸爸的年龄是她的 {times} 倍。{later} 年后爸爸多少岁？"
        en = (
            f"Anna is {age} years old. Her father is {times} times as old as she is. "
            f"How old will her father be in {later} years?"
        )
        return _item(zh if lang == "zh" else en, age * times + later)
    price, count = rng.randint(3, 40), rng.randint(3, 12)
    off = rng.randint(1, price * count // 4)
    zh = f"一本笔记本 {price} 元。买 {count} 本，总价再便宜 {off} 元，一共要付多少元？"
    en = (
        f"A notebook costs {price} dollars. Buying {count} notebooks, you get {off} dollars "
        "off the total. How many dollars do you pay?"
    )
    return _item(zh if lang == "zh" else en, price * count - off)


GENERATORS: dict[str, Generator] = {
    "letters": gen_letters,
    "decimals": gen_decimals,
    "arithmetic": gen_arithmetic,
    "dates": gen_dates,
    "word-problems": gen_word_problem,
}


# --- the sets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinSet:
    """Which streams a built-in set draws from, and how many items from each."""

    name: str
    description: str
    kinds: tuple[str, ...]
    langs: tuple[str, ...]
    per_stream: int

    @property
    def size(self) -> int:
        return len(self.kinds) * len(self.langs) * self.per_stream


_DEFS = (
    BuiltinSet("classic", "all five kinds, English and Chinese (the default)", KINDS, LANGS, 12),
    BuiltinSet("classic-en", "all five kinds, English", KINDS, ("en",), 24),
    BuiltinSet("classic-zh", "all five kinds, Chinese", KINDS, ("zh",), 24),
    *(
        BuiltinSet(kind, f"{kind.replace('-', ' ')} only, English and Chinese", (kind,), LANGS, 20)
        for kind in KINDS
    ),
)
BUILTIN_SETS: dict[str, BuiltinSet] = {d.name: d for d in _DEFS}
#: Appended to every built-in question: a reply that ends "Answer: 9.9" is scored on 9.9, not on
#: the last number it mentions ("9.9 is larger than 9.11" would otherwise read as 9.11).
ANSWER_FORMAT = {
    "en": ' End your reply with "Answer:" followed by the answer alone.',
    "zh": "最后请以“答案：”开头单独写出答案。",
}
#: Seeds a run can store: SQLite keeps integers in 64 bits (a larger one failed only after the
#: server was reached, when the run was saved).
MIN_SEED, MAX_SEED = -(2**63), 2**63 - 1


def check_seed(seed: int) -> int:
    """``seed`` when a run can store it; ValueError (one line, naming --seed) else."""
    if not MIN_SEED <= seed <= MAX_SEED:
        raise ValueError(f"--seed must be from {MIN_SEED} to {MAX_SEED}")
    return seed


#: Draws allowed per wanted item before a stream is declared too small (never near in practice).
_MAX_DRAWS_PER_ITEM = 50


def stream(kind: str, lang: str, seed: int, count: int) -> list[EvalItem]:
    """The first ``count`` distinct questions of one (kind, language) stream."""
    rng = random.Random(f"o1tui-eval/{seed}/{kind}/{lang}")
    generate = GENERATORS[kind]
    seen: set[str] = set()
    items: list[EvalItem] = []
    for _ in range(count * _MAX_DRAWS_PER_ITEM):
        if len(items) == count:
            break
        item = generate(rng, lang)
        if item.question in seen:
            continue
        seen.add(item.question)
        question = f"{item.question}{ANSWER_FORMAT[lang]}"
        items.append(
            EvalItem(question, item.answer, item.accept, meta={"kind": kind, "lang": lang})
        )
    if len(items) < count:
        raise RuntimeError(f"the {kind}/{lang} generator repeats itself too much")
    return items


def builtin_set(name: str, seed: int = DEFAULT_SEED) -> EvalSet:
    """The built-in set ``name`` generated from ``seed``; KeyError for an unknown name."""
    spec = BUILTIN_SETS[name]
    streams = {
        (kind, lang): stream(kind, lang, seed, spec.per_stream)
        for kind in spec.kinds
        for lang in spec.langs
    }
    items = [
        streams[(kind, lang)][i]
        for i in range(spec.per_stream)
        for lang in spec.langs
        for kind in spec.kinds
    ]
    return EvalSet(name=name, items=tuple(items), seed=seed)
