"""How quickly the command line answers: each command run N times as a new process, from start to exit.

Run `.venv/bin/python bench/cli_start.py [-n 10] [--commands help typo classify draft_reply draft_post]`
from the repo root. Each command runs once untimed first (so a missing model cache is filled
then, not timed), then N times in turn with the others. `bot --help` is the baseline of the same
run: what starting Python and the command line costs before any work. The config is the repo's
config.toml with the data folder in a temporary directory and the model cache shared with
`make run` (data/models). Last line: one JSON object with p50_s per command.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from core import machine  # noqa: E402
from core.config import load_settings  # noqa: E402
from brain.llama_choice import machine_and_weights  # noqa: E402

BOT = ROOT / ".venv" / "bin" / "bot"
MESSAGE = "Do you deliver on Sunday?"
COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "typo": ["clasify", MESSAGE],  # a mistyped command: refused by the parser
    "classify": ["classify", MESSAGE],
    "draft_reply": ["draft-reply", MESSAGE],
    "draft_post": ["draft-post", "our new sourdough", "--platform", "telegram", "-n", "1"],
}
BASELINE = "help"
GOAL_S = {"help": 1.0, "typo": 1.0, "classify": 3.0, "draft_reply": 3.0, "draft_post": 3.0}  # issues #16 and #20


def write_config(folder: Path) -> Path:
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('data_dir = "data"', f'data_dir = "{(folder / "data").as_posix()}"', 1)
    text = text.replace("[models]\n", f'[models]\ncache_dir = "{(ROOT / "data" / "models").as_posix()}"\n', 1)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_once(args: list[str], config: Path) -> tuple[float, int]:
    with_config = args if args == ["--help"] or args[0] == "clasify" else [*args, "--config", str(config)]
    start = time.perf_counter()
    done = subprocess.run([str(BOT), *with_config], capture_output=True, text=True, cwd=ROOT, timeout=600)
    elapsed = time.perf_counter() - start
    expected = 2 if args[0] == "clasify" else 0
    if done.returncode != expected:
        raise SystemExit(f"`bot {' '.join(args)}` exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--commands", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    args = parser.parse_args()
    names = list(dict.fromkeys([BASELINE, *args.commands]))
    times: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp))
        for name in names:
            run_once(COMMANDS[name], config)  # fills any missing cache; not timed
        for _ in range(args.n):  # interleaved, so a burst of load elsewhere touches every command alike
            for name in names:
                times[name].append(run_once(COMMANDS[name], config)[0])

    p50 = {name: statistics.median(t) for name, t in times.items()}
    table = Table(title=f"bot command start to exit, {args.n} runs each ({machine.cpu_model()}, {machine.describe()['cpu_count']} cores)")
    for column in ("command", "p50 s", "min s", "max s", "minus --help s", "goal s"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for name, t in times.items():
        table.add_row(
            f"bot {' '.join(COMMANDS[name])[:48]}", f"{p50[name]:.2f}", f"{min(t):.2f}", f"{max(t):.2f}",
            f"{p50[name] - p50[BASELINE]:.2f}", f"< {GOAL_S[name]:.0f}",
        )
    Console().print(table)
    figures: dict[str, object] = {f"{name}_p50_s": round(p50[name], 3) for name in names}
    figures |= {f"{name}_max_s": round(max(times[name]), 3) for name in names}
    figures |= {f"{name}_minus_help_p50_s": round(p50[name] - p50[BASELINE], 3) for name in names if name != BASELINE}
    print(json.dumps({"runs": args.n, **figures, **machine_and_weights(load_settings(ROOT / "config.toml"))}))


if __name__ == "__main__":
    main()
