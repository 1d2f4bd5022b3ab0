"""What CPU this is: its model name and the instruction sets that decide which kernels are fast."""

from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path

# The flags that change which weights or kernels win (llama.cpp's and ONNX Runtime's); the rest
# of /proc/cpuinfo's hundred flags says nothing about speed here.
SPEED_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
    "asimd", "asimddp", "sve", "sve2", "bf16", "i8mm",  # Arm's names
)


@cache
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _cpuinfo().splitlines():
        if line.startswith(("model name", "Model", "Hardware")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> frozenset[str]:
    """Every flag the CPU reports (x86 'flags', Arm 'Features')."""
    return frozenset(
        word for line in _cpuinfo().splitlines() if line.startswith(("flags", "Features")) for word in line.split(":", 1)[-1].split()
    )


def speed_flags() -> list[str]:
    flags = cpu_flags()
    return [f for f in SPEED_FLAGS if f in flags]


def threads(configured: int = 0) -> int:
    """How many threads the models use: the configured number ([models] threads), else every core."""
    return configured if configured > 0 else os.cpu_count() or 1


def describe() -> dict[str, object]:
    """The machine, for a benchmark's JSON line: figures from different CPUs must not be compared blind."""
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"cpu_model": cpu_model(), "cpu_flags": " ".join(speed_flags()), "cpu_count": os.cpu_count() or 1, "load_avg_1m": load}
