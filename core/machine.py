"""What CPU this is: its model name and the instruction sets that decide which kernels are fast."""

from __future__ import annotations

import os
import platform
import statistics
import time
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


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads(configured: int = 0) -> int:
    """How many threads the models use: the configured number ([models] threads), else the cores
    that other work leaves free now, at least one. llama.cpp's and torch's threads wait for each
    other by spinning: one thread more than the free cores made a draft 15x slower, not faster."""
    if configured > 0:
        return configured
    return free_cores(cores(), busy_elsewhere())


def free_cores(cores: int, busy: float) -> int:
    """Cores left when `busy` runnable tasks of other processes share them."""
    return max(1, min(cores, cores - round(busy)))


def busy_elsewhere(samples: int = 5, gap_s: float = 0.002) -> float:
    """Runnable tasks of other processes right now: the median over a few readings of the kernel's
    count (/proc/loadavg's running/total, less this reading thread). Not the 1-minute load: that
    counts our own last draft and reacts a minute late."""
    counts = []
    for i in range(samples):
        try:
            running = Path("/proc/loadavg").read_text(encoding="ascii").split()[3].split("/")[0]
            counts.append(int(running) - 1)
        except (OSError, IndexError, ValueError):
            return 0.0
        if i + 1 < samples:
            time.sleep(gap_s)
    return float(statistics.median(counts))


def describe() -> dict[str, object]:
    """The machine, for a benchmark's JSON line: figures from different CPUs must not be compared blind."""
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"cpu_model": cpu_model(), "cpu_flags": " ".join(speed_flags()), "cpu_count": os.cpu_count() or 1, "load_avg_1m": load, "busy_elsewhere": busy_elsewhere()}
