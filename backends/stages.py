"""A model server's start-up as named stages, read from its own log lines.

LMDeploy (PyTorch engine, ``--log-level INFO``): importing -> model -> weights -> warm-up -> ready;
llama.cpp: importing -> model -> weights -> context -> ready. Each engine is a :class:`StagePlan`:
the stages in order, how much of the wait each one usually takes (for the progress bar), and the
patterns of the lines that open a stage. tqdm bars (``Loading weights …| 2/4``, ``Warming up
decoding …| 5/11``) give the count inside a stage. A stage never goes back: a late line of an
earlier stage does not move the bar backwards. The patterns come from the servers' real output
(tests/data/lmdeploy_startup.log, from LMDeploy 0.18 on an H200, and
tests/data/llamacpp_startup.log).

No UI here: :func:`bar_text` draws the bar as plain text for any front end.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StagePlan:
    """One engine's start-up: ``stages`` in order (the last one is ``ready``), ``weights`` (the
    share of the wait each usually takes, summing to 1), and ``rules``: (stage, pattern) pairs;
    a line matching a pattern means that stage has begun."""

    stages: tuple[str, ...]
    weights: tuple[float, ...]
    rules: tuple[tuple[str, re.Pattern[str]], ...]


#: ``…| 5/11 [00:01<00:02…`` in a tqdm redraw: done and total.
_COUNT = re.compile(r"\|\s*(\d+)/(\d+)\b")

PLANS: dict[str, StagePlan] = {
    "lmdeploy": StagePlan(
        ("importing", "model", "weights", "warm-up", "ready"),
        # From the H200 logs (docs/gpu.md): imports 13-18 s, model 8-9 s, weights 2-3 s,
        # warm-up 2.5 s with a warm Triton cache, 21 s on a fresh machine.
        (0.5, 0.25, 0.1, 0.15, 0.0),
        (
            ("model", re.compile(r"input backend=|Build <\w+> executor|Building Model")),
            ("weights", re.compile(r"Loading weights from safetensors")),
            (
                "warm-up",
                re.compile(
                    r"Updating configs|Building GraphRunner|Building CacheEngine|Warming up"
                    r"|Starting engine warmup"
                ),
            ),
            (
                "ready",
                re.compile(
                    r"Engine warmup completed|Started server process|Application startup complete"
                    r"|Uvicorn running on"
                ),
            ),
        ),
    ),
    "llamacpp": StagePlan(
        ("importing", "model", "weights", "context", "ready"),
        (0.4, 0.15, 0.15, 0.3, 0.0),
        (
            ("model", re.compile(r"^llama_model_loader: loaded meta data|^print_info: ")),
            ("weights", re.compile(r"^load_tensors: ")),
            ("context", re.compile(r"^llama_context: |^llama_kv_cache: |^sched_reserve: ")),
            (
                "ready",
                re.compile(
                    r"Started server process|Application startup complete|Uvicorn running on"
                ),
            ),
        ),
    ),
}
#: Servers without a plan (the stand-in OpenAI server, another engine): loading, then ready.
_GENERIC = StagePlan(("loading", "ready"), (1.0, 0.0), ())


@dataclass(frozen=True)
class StartProgress:
    """Where a start-up stands: stage ``index`` of ``count`` (0-based), with ``done``/``total``
    inside the stage when the server counts it, ``fraction`` of the whole wait (0..1) and the
    seconds since the start."""

    stage: str
    index: int
    count: int
    done: int | None = None
    total: int | None = None
    fraction: float = 0.0
    elapsed_s: float = 0.0
    #: Which replica of a replica set (``--dp``) this is, and of how many (1-based).
    replica: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        """``warm-up 5/11``, ``weights 2/4``, ``importing``; a replica set's names its slowest
        replica: ``weights 3/4 · replica 2/2``."""
        text = self.stage
        if self.done is not None and self.total:
            text = f"{self.stage} {self.done}/{self.total}"
        if self.replica is not None:
            text += f" · replica {self.replica[0]}/{self.replica[1]}"
        return text

    def describe(self) -> str:
        """``weights 2/4 · stage 3/5 · 14 s`` (``weights 2/4 · replica 2/2 · stage 3/5 · 14 s``
        for a replica set): one line for a header or a terminal."""
        return f"{self.label} · stage {self.index + 1}/{self.count} · {self.elapsed_s:.0f} s"


@dataclass
class StageTracker:
    """Feed it a server's lines; :attr:`progress` says where its start-up stands."""

    engine: str
    started_at: float = field(default_factory=time.monotonic)
    _index: int = 0
    _done: int | None = None
    _total: int | None = None

    def __post_init__(self) -> None:
        self.plan = PLANS.get(self.engine, _GENERIC)

    def feed(self, line: str) -> bool:
        """Read one (cleaned) log line; True when the stage or its count moved."""
        stages = self.plan.stages
        for stage, pattern in self.plan.rules:
            if pattern.search(line):
                index = stages.index(stage)
                if index < self._index:
                    return False  # a late line of a stage already left behind
                moved = index != self._index
                self._index = index
                done, total = self._count(line)
                if moved:
                    self._done, self._total = done, total
                elif total is not None and (done, total) != (self._done, self._total):
                    self._done, self._total = done, total
                    moved = True
                return moved
        return False

    @staticmethod
    def _count(line: str) -> tuple[int | None, int | None]:
        match = _COUNT.search(line)
        if not match:
            return None, None
        done, total = int(match.group(1)), int(match.group(2))
        return (done, total) if 0 <= done <= total and total > 0 else (None, None)

    def finish(self) -> None:
        """The server answers: the last stage, whatever the log said."""
        self._index = len(self.plan.stages) - 1
        self._done = self._total = None

    @property
    def progress(self) -> StartProgress:
        plan, i = self.plan, self._index
        within = self._done / self._total if self._done is not None and self._total else 0.0
        fraction = sum(plan.weights[:i]) + plan.weights[i] * within
        if i == len(plan.stages) - 1:
            fraction = 1.0
        return StartProgress(
            plan.stages[i],
            i,
            len(plan.stages),
            self._done,
            self._total,
            min(1.0, fraction),
            time.monotonic() - self.started_at,
        )


def bar_text(fraction: float, width: int = 10) -> str:
    """``━━━━━╺─────``-style bar of ``width`` cells for ``fraction`` (0..1), plain text."""
    width = max(1, width)
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "━" * filled + "─" * (width - filled)


#: A line that states an error in the server's own words (an exception, an ERROR record).
_ERROR_LINE = re.compile(
    r"^(?:[\w.]+(?:Error|Exception|Exit)\b:?.*|.* - (?:ERROR|CRITICAL) - .*|ERROR:\s.*)$"
)


#: LMDeploy's record prefix (``2026-… - lmdeploy - ERROR - base.py:52 - ``): not the words.
_RECORD_PREFIX = re.compile(r"^.*? - [\w.]+ - (?:ERROR|CRITICAL) - [\w.]+:\d+ - ")


#: A replica set's own account of a failed start (backends/replica_runner.py), which names the
#: replica (or the proxy) and quotes that process's own error line.
_SET_FAILURE = re.compile(r"^ERROR: ((?:replica \d+/\d+|the proxy|every replica) .*)$")


def failure_line(lines: list[str]) -> str | None:
    """The last line of ``lines`` that says why a server failed, in its own words."""
    for line in reversed(lines):
        text = line.strip()
        if match := _SET_FAILURE.match(text):
            return match.group(1)
        if text and _ERROR_LINE.match(text) and "check failed" not in text:
            return _RECORD_PREFIX.sub("", text)
    return None
