"""What GPUs this machine has, read from ``nvidia-smi`` (no CUDA library is imported).

Used for the automatic engine choice (LMDeploy only where a GPU is present) and for the
server screen (name, memory used/total). Every function answers ``None``/empty rather than
raising when there is no NVIDIA driver: a CPU box is a normal case, not an error.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

_QUERY = "index,name,memory.used,memory.total"


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as ``nvidia-smi`` reports it; memory in MiB."""

    index: int
    name: str
    memory_used_mib: int
    memory_total_mib: int

    def describe(self) -> str:
        """``"NVIDIA H100 80GB HBM3 · 1.2/79.6 GiB"`` for status lines."""
        used = self.memory_used_mib / 1024
        total = self.memory_total_mib / 1024
        return f"{self.name} · {used:.1f}/{total:.1f} GiB"


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """Parse ``--query-gpu=index,name,memory.used,memory.total --format=csv,noheader,nounits``.

    Lines that do not parse (``[N/A]`` memory on some MIG setups) are skipped.
    """
    gpus: list[GpuInfo] = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        try:
            gpus.append(
                GpuInfo(int(parts[0]), parts[1], int(float(parts[2])), int(float(parts[3])))
            )
        except ValueError:
            continue
    return gpus


def query_gpus(nvidia_smi: str | None = None, timeout_s: float = 5.0) -> list[GpuInfo] | None:
    """The GPUs of this machine, or ``None`` when ``nvidia-smi`` is absent or fails."""
    exe = nvidia_smi or shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run(
            [exe, f"--query-gpu={_QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    gpus = parse_nvidia_smi(out.stdout)
    return gpus or None


def has_gpu(nvidia_smi: str | None = None) -> bool:
    """Whether at least one NVIDIA GPU answers ``nvidia-smi``."""
    return bool(query_gpus(nvidia_smi))
