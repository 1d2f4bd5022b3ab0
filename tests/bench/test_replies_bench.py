"""bench/replies.py end to end on a few rows with the stand-in generator, so the benchmark never rots."""

from __future__ import annotations

import json

import pytest

from bench import replies
from fakes.generator import ScriptedGenerator

pytestmark = pytest.mark.slow  # the bench end to end


def test_the_bench_runs_end_to_end_and_ends_with_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    generators: list[ScriptedGenerator] = []

    def make(settings: object) -> ScriptedGenerator:
        generators.append(ScriptedGenerator("We're open Monday to Saturday, 8:00 to 18:00."))
        return generators[-1]

    figures = replies.main(["--split", "tune", "--limit", "5", "--modes", "free,planned"], make_generator=make)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == figures
    free = figures["modes"]["free"]["replies"]["tune"]
    assert free["n"] == 5
    assert sum(i["n"] for i in free["per_intent"].values()) == 5
    # Five rows means the first of each business in turn: the bakery's Saturday hours (which the
    # stand-in's answer states) and the bike shop's (where the checks replace its wrong hours by the
    # closest fact) are both answered.
    assert free["answerable_n"] >= 2 and free["answered_right_fact_pct"] == 100.0
    assert free["tokens_per_reply_p50"] is not None and free["seconds_per_reply_p50_s"] is not None
    assert figures["modes"]["planned"]["replies"]["tune"]["n"] == 5
    assert figures["posts"]["tune"]["n"] == 5
    # Drafts went through the real drafting path: the prompts carry the bakery's current facts only.
    prompts = [m.content for g in generators for p in g.prompts for m in p]
    assert any("8:00 to 18:00" in p for p in prompts)
    assert not any("autumn sale gives 20%" in p for p in prompts)


def test_a_bad_limit_is_refused() -> None:
    with pytest.raises(SystemExit):
        replies.parse_args(["--limit", "0"])


def test_an_unknown_mode_is_refused_naming_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        replies.parse_args(["--modes", "free,nosuchmode"])
    assert "'nosuchmode'" in capsys.readouterr().err
