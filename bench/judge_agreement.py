"""How often the judge agrees with the expected verdicts of tests/data/judge_cases.jsonl.

The cases come from math-verify's own test suite, lm-eval's GSM8K targets, GSM8K-style
outputs and the examples the judge was specified with (each case names its source). Prints
agreement overall, on numeric golds, on symbolic golds, on text golds and on the named
examples, then the judge's time per case (mean and worst), and lists the disagreements
with ``--show``.

Run: ``python bench/judge_agreement.py [--show] [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.core.answers import parse_number, text_key  # noqa: E402
from tui.core.judge import judge  # noqa: E402
from tui.core.latex import to_plain  # noqa: E402
from tui.core.mathexpr import parse_math  # noqa: E402

CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "judge_cases.jsonl"


def load_cases(path: Path = CASES) -> list[dict[str, object]]:
    """The cases, one JSON object a line: output, gold, expected, source, named."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def kind(gold: str) -> str:
    """``numeric`` (one number), ``text`` (words or a choice letter) or ``symbolic`` (the rest)."""
    if parse_number(gold) is not None:
        return "numeric"
    words = text_key(gold)
    if words.isalpha() and (parse_math(to_plain(gold)) is None or len(words) == 1):
        return "text"  # words, or one choice letter
    return "symbolic"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="list the disagreements")
    parser.add_argument("--repeat", type=int, default=5, help="timing passes (default 5)")
    args = parser.parse_args()
    cases = load_cases()
    groups: dict[str, list[bool]] = {}
    worst = 0.0
    total = 0.0
    for _ in range(max(1, args.repeat)):
        for case in cases:
            start = time.perf_counter()
            judge(str(case["output"]), str(case["gold"]))
            took = time.perf_counter() - start
            total += took
            worst = max(worst, took)
    for case in cases:
        verdict = judge(str(case["output"]), str(case["gold"]))
        agree = verdict.correct == case["expected"]
        for name in ("overall", kind(str(case["gold"])), *(["named"] if case["named"] else [])):
            groups.setdefault(name, []).append(agree)
        if args.show and not agree:
            print(
                f"DISAGREE expected={case['expected']} gold={case['gold']!r} "
                f"read={verdict.extracted!r} ({case['source']})\n  {verdict.why}"
            )
    for name in ("overall", "numeric", "symbolic", "text", "named"):
        results = groups.get(name, [])
        if results:
            share = 100 * sum(results) / len(results)
            print(f"{name:9} {sum(results):4}/{len(results):<4} {share:5.1f} %")
    runs = len(cases) * max(1, args.repeat)
    print(f"time      {1000 * total / runs:.3f} ms per case (mean), {1000 * worst:.2f} ms worst")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
