"""``PytorchEngineConfig`` as LMDeploy 0.18 has it (a plain dataclass), the fields the stand-in uses."""

from dataclasses import dataclass


@dataclass
class PytorchEngineConfig:
    tp: int = 1
    session_len: int | None = None
    max_batch_size: int | None = None
    cache_max_entry_count: float = 0.8
    enable_prefix_caching: bool = False
    eager_mode: bool = False
    enable_mp_engine: bool = False
