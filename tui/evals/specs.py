"""Strategy specs of an eval: ``g1`` (one chain) or ``g1@5`` (five samples, majority vote)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_STRATEGIES = "plain,g1"
#: Seed of a built-in set when none is given (here, not in :mod:`tui.evals.builtin`: the CLI's
#: parser shows it, and building the parser must not generate the sets' tables).
DEFAULT_SEED = 0


@dataclass(frozen=True)
class StrategySpec:
    """A strategy name and how many self-consistency samples (1: a single chain)."""

    name: str
    samples: int = 1

    @property
    def label(self) -> str:
        """How the spec is written and stored: ``g1`` or ``g1@5``."""
        from tui.core.votes import vote_label

        return self.name if self.samples == 1 else vote_label(self.name, self.samples)


def parse_spec(text: str) -> StrategySpec:
    """One spec; ValueError names what is wrong."""
    # Lazily: building the CLI parser needs neither. The sample limits are the core's votes'.
    from tui.core.strategies import STRATEGY_NAMES
    from tui.core.votes import MAX_SAMPLES, MIN_SAMPLES

    name, sep, count = text.strip().partition("@")
    name = name.strip().lower()
    if name not in STRATEGY_NAMES:
        raise ValueError(f"unknown strategy {name!r}: choose from {', '.join(STRATEGY_NAMES)}")
    if not sep:
        return StrategySpec(name)
    try:
        samples = int(count)
    except ValueError:
        raise ValueError(f"{text.strip()!r}: the sample count after @ must be a number") from None
    if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        raise ValueError(
            f"{text.strip()!r}: a vote takes between {MIN_SAMPLES} and {MAX_SAMPLES} samples"
        )
    return StrategySpec(name, samples)


def parse_specs(text: str) -> tuple[StrategySpec, ...]:
    """A comma-separated list of specs, in order, each at most once."""
    parts = [p for p in (text or "").split(",") if p.strip()]
    if not parts:
        raise ValueError("no strategy given")
    specs = tuple(parse_spec(p) for p in parts)
    labels = [s.label for s in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"strategy given twice: {', '.join(repeated)}")
    return specs


# --- what a run sends: its prompts and request parameters, stored with it ---------------------


def _sha256(*texts: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def math_suffix(lang: str) -> str:
    """The model cards' 0-shot chain-of-thought instruction for a math question."""
    from tui.core.strategies.prompts import MATH_COT

    return MATH_COT.get(lang, MATH_COT["en"])


def run_prompts(strategies: tuple[str, ...] | list[str], *, math: bool) -> dict[str, Any]:
    """Per strategy label, the prompts it sends around the question: ``sha256`` of all its
    fixed texts, and ``math_cot`` when the question gets the cards' chain-of-thought line
    (plain on a math set) — the runner appends it, and a resumed run keeps doing so."""
    from tui.core.strategies import prompts as p

    out: dict[str, Any] = {}
    for label in strategies:
        name = parse_spec(label).name
        entry: dict[str, Any] = {"math_cot": False}
        if name == "plain" and math:
            entry["math_cot"] = True
            texts: tuple[str, ...] = (p.MATH_COT["en"], p.MATH_COT["zh"])
        elif name == "thinking":
            texts = (p.THINKING_SYSTEM,)
        elif name == "g1":
            texts = tuple(
                t for g in p.G1_PROMPTS.values() for t in (g.system, g.primer, g.final_request)
            )
        else:
            texts = ()
        entry["sha256"] = _sha256(name, *texts)
        out[label] = entry
    return out


def run_request(
    strategies: tuple[str, ...] | list[str], options: Any, model: str
) -> dict[str, Any]:
    """Per strategy label, every request parameter its calls carry: the model, temperature
    and token limits (the strategy's defaults where ``options`` leaves them open; g1's differ
    by prompt language), extra body fields, and g1's step limit."""
    from tui.core.strategies import get_strategy
    from tui.core.strategies.prompts import G1_PROMPTS

    defaults_max = {"plain": 2048, "thinking": 8192, "native": 8192}
    out: dict[str, Any] = {}
    for label in strategies:
        spec = parse_spec(label)
        strategy = get_strategy(spec.name)
        entry: dict[str, Any] = {"model": model, "samples": spec.samples}
        for lang in ("en", "zh"):
            temperature = options.temperature
            if temperature is None:
                temperature = strategy.default_temperature(lang)
            if spec.name == "g1":
                g = G1_PROMPTS[lang]
                max_tokens = options.max_tokens or g.step_max_tokens
                final = options.final_max_tokens or g.final_max_tokens
                entry[lang] = {
                    "temperature": temperature,
                    "max_tokens": max_tokens,
                    "final_max_tokens": final,
                    "max_steps": options.max_steps,
                }
            else:
                max_tokens = options.max_tokens or defaults_max.get(spec.name)
                entry[lang] = {"temperature": temperature, "max_tokens": max_tokens}
        entry["extra_body"] = dict(options.extra_body or {})
        out[label] = entry
    return out


def incomparable(a: Any, b: Any, *, same_model: bool = True) -> list[str]:
    """Why two eval runs cannot be compared item by item (empty when they can): another set
    (name, seed, or file checksum), prompt or request parameter for a strategy both ran, and —
    unless ``same_model`` is False (comparing models is the point) — another model."""
    reasons: list[str] = []
    if (a.set_name, a.source, a.seed) != (b.set_name, b.source, b.seed):
        reasons.append(f"different sets ({a.set_name} vs {b.set_name})")
    if same_model and a.model != b.model:
        reasons.append(f"different models ({a.model} vs {b.model})")
    for label in [s for s in a.strategies if s in b.strategies]:
        if not a.prompts.get(label) or not b.prompts.get(label):
            reasons.append(f"{label}: prompts not recorded")
        elif a.prompts[label] != b.prompts[label]:
            reasons.append(f"{label}: different prompts")
        request_a, request_b = dict(a.request.get(label) or {}), dict(b.request.get(label) or {})
        if not same_model:
            request_a.pop("model", None)
            request_b.pop("model", None)
        if request_a != request_b:
            reasons.append(f"{label}: different request parameters")
    return reasons


# --- how many items at once: enough to fill the managed server's batch -------------------------

#: LMDeploy's own ``max_batch_size`` where it is not given, by GPU (its ``get_max_batch_size``:
#: A100/A800 256, H100/H800/H200 512, others 128).
LMDEPLOY_BATCH_BY_GPU = (("a100", 256), ("a800", 256), ("h100", 512), ("h800", 512), ("h200", 512))
LMDEPLOY_DEFAULT_BATCH = 128


def _batch_flag(args: list[str]) -> int | None:
    """The value of ``--max-batch-size N`` / ``--max-batch-size=N`` among server arguments."""
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if flag == "--max-batch-size":
            value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            if value.isdigit():
                return int(value)
    return None


def lmdeploy_batch_size(settings: Any, gpu_names: list[str] | None = None) -> int:
    """Sequences the managed LMDeploy server decodes at once: the ``--max-batch-size`` o1tui
    starts it with (``max_batch_size``, or one in ``server_args``; raised to o1tui's floor as
    the command builder does), else LMDeploy's own default for the GPU (``gpu_names``: None
    asks ``nvidia-smi``)."""
    from backends.engines import MIN_CONCURRENT_SEQUENCES
    from backends.manager import server_options

    opts = server_options(settings, 0)
    size = _batch_flag(list(opts.extra_args)) or opts.max_batch_size
    if size:
        return max(int(size), MIN_CONCURRENT_SEQUENCES)
    if gpu_names is None:
        from backends.gpu import query_gpus

        gpu_names = [g.name for g in query_gpus() or []]
    first = gpu_names[0].lower() if gpu_names else ""
    return next((n for key, n in LMDEPLOY_BATCH_BY_GPU if key in first), LMDEPLOY_DEFAULT_BATCH)


def default_concurrency(settings: Any, engine: str | None, ceiling: int) -> int:
    """``eval``'s ``--concurrency`` when none is given: against a managed LMDeploy server,
    its batch capacity times its replicas (``dp``; up to ``ceiling``), so every GPU is full;
    elsewhere 1 (an endpoint of unknown size, or an engine that serves one request at a
    time)."""
    if engine != "lmdeploy":
        return 1
    replicas = max(1, int(getattr(settings, "dp", 1) or 1))
    return max(1, min(lmdeploy_batch_size(settings) * replicas, ceiling))
