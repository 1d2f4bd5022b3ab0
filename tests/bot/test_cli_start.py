"""The command line answers quickly: --help, a typo and a refused argument load no model library,
and a command loads only the models it uses (bench/cli_start.py measures the times)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HEAVY = ("torch", "transformers", "scipy", "sklearn", "onnxruntime", "llama_cpp", "httpx")

# Runs `bot ARGS` in a fresh interpreter and prints, as its last stderr line, the heavy modules it imported.
PROBE = f"""
import json, sys
from bot.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)
"""


def probe(*args: str, stdin: str = "") -> tuple[int, list[str], str, str]:
    """(exit code, heavy modules imported, stdout, stderr without the probe's line)."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=600)
    *err, last = done.stderr.strip().splitlines() or [""]
    result = json.loads(last)
    return result["code"], result["loaded"], done.stdout, "\n".join(err)


@pytest.mark.parametrize("args", [["--help"], ["clasify", "hello"], ["draft-reply", "--help"], ["run", "--connector", "pigeon"]])
def test_help_and_typos_load_no_model_library(args: list[str]) -> None:
    code, loaded, out, err = probe(*args)
    assert loaded == []
    if "--help" in args:
        assert code == 0 and "usage: bot" in out
    else:
        assert code == 2 and "invalid choice" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["draft-post", "bread", "--platform", "nosuchplatform"], "unknown platform 'nosuchplatform': one of bluesky, console, facebook, instagram, mastodon, slack, telegram, x"),
        (["draft-reply", "hello", "--platform", "twitter"], "unknown platform 'twitter': one of bluesky, console, facebook, instagram, mastodon, slack, telegram, x"),
        (["draft-post", "bread", "--platform", "mastodon,nosuch"], "unknown platform 'nosuch': one of bluesky, console, facebook, instagram, mastodon, slack, telegram, x"),
        (["draft-reply", "  "], "the message is empty"),
    ],
)
def test_a_mistake_is_one_line_before_any_model_loads(config_file: Path, args: list[str], message: str) -> None:
    code, loaded, _, err = probe(*args, "--config", str(config_file))
    assert code == 2 and loaded == []
    assert err.strip().startswith(f"error: {message}") and len(err.strip().splitlines()) == 1


def test_a_platform_given_a_length_limit_is_known(config_file: Path) -> None:
    text = config_file.read_text(encoding="utf-8").replace(
        'allowed_links = ["https://example.com/shop"]',
        'allowed_links = ["https://example.com/shop"]\nlength_limits = { default = 500, threads = 500 }',
    )
    config_file.write_text(text, encoding="utf-8")
    code, _, _, err = probe("draft-post", "bread", "--platform", "linkedin", "--config", str(config_file))
    assert code == 2 and "one of bluesky, console, facebook, instagram, mastodon, slack, telegram, threads" in err


@pytest.mark.models
def test_classify_reads_each_argument_and_loads_only_the_encoder(config_file: Path) -> None:
    probe("classify", "warm up", "--config", str(config_file))  # exports the ONNX graph if no cached copy exists
    code, loaded, out, _ = probe("classify", "hi there!", "where is my parcel?", "unsubscribe me", "--config", str(config_file))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["text"] for r in rows] == ["hi there!", "where is my parcel?", "unsubscribe me"]
    assert [r["intent"] for r in rows] == ["greeting", "question", "unsubscribe"]
    assert loaded == ["onnxruntime"]  # the cached graph: no torch, transformers or scikit-learn


@pytest.mark.models
def test_draft_reply_says_what_the_policy_decides_for_each_line_of_stdin(config_file: Path) -> None:
    messages = [
        "What time do you open on Saturday?",
        "Your cake was stale and the staff was rude, I am furious",
        "Click here to win a free iPhone!! Earn $5000 a week, DM me",
        "please unsubscribe me, stop messaging me",
        "",  # blank lines are skipped
    ]
    probe("classify", "warm up", "--config", str(config_file))
    code, loaded, out, err = probe("draft-reply", "-", "--json", "--config", str(config_file), stdin="\n".join(messages) + "\n")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    decisions = [(r["decision"]["action"], r["decision"]["outcome"]) for r in rows]
    assert decisions == [
        ("auto_reply", "sent automatically"),
        ("escalate", "escalated to the owner with a suggested reply, never sent alone"),
        ("ignore_spam", "ignored, no reply"),
        ("opt_out", "no reply, and no more automatic messages to this contact"),
    ]
    assert "8:00" in rows[0]["text"] and [r["text"] for r in rows[2:]] == ["", ""]
    assert "sorry" in rows[1]["text"].lower() and "message us" in rows[1]["text"]  # the owner's starting point
    assert rows[1]["decision"]["reason"].startswith("complaint")
    # Planned replies ask the model for no words: the generator is never loaded, nor torch.
    assert loaded == ["onnxruntime"]


@pytest.mark.models
def test_draft_reply_on_a_platform_without_auto_replies_waits_for_the_owner(config_file: Path) -> None:
    code, _, out, err = probe("draft-reply", "What time do you open on Saturday?", "--platform", "x", "--config", str(config_file))
    assert code == 0, err
    text, decision = out.splitlines()[:2]
    assert "8:00" in text
    assert decision.endswith("waits for the owner's approval: auto-reply is off on x")


@pytest.mark.models
def test_draft_post_loads_llama_cpp_but_not_torch(config_file: Path) -> None:
    code, loaded, out, err = probe("draft-post", "our new sourdough", "--platform", "x", "-n", "1", "--config", str(config_file))
    assert code == 0, err
    assert out.startswith("1. [score ") and "torch" not in loaded and "transformers" not in loaded
    assert "llama_cpp" in loaded


@pytest.mark.models
def test_draft_post_for_two_platforms_drafts_each_to_its_own_length(config_file: Path) -> None:
    code, _, out, err = probe("draft-post", "our new sourdough", "--platform", "x,bluesky", "-n", "1", "--config", str(config_file))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "# our new sourdough (x)" and "# our new sourdough (bluesky)" in lines
    drafts = [line.split("] ", 1)[1] for line in lines if line.startswith("1. [score ")]
    assert len(drafts) == 2 and len(drafts[0]) <= 280 and len(drafts[1]) <= 300


@pytest.mark.models
def test_draft_post_gives_the_variants_asked_for(config_file: Path) -> None:
    # The small model's candidates for this topic all fail the facts: the plan's other wordings make up the three.
    code, _, out, err = probe("draft-post", "our new rye bread", "--platform", "telegram", "-n", "3", "--config", str(config_file))
    assert code == 0, err
    ranked = [line.split("] ", 1)[1] for line in out.splitlines() if line[:1].isdigit()]
    assert len(ranked) == 3 and len(set(ranked)) == 3, out
    assert "of 3 variants" not in out and "1 sentences" not in out
    assert "  - " not in out  # no variant fails a check
