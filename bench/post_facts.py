"""What the real model adds to posts held to the facts: per topic, how many variants kept the model's
words as written, repaired, or replaced by the plan's wording, and the words it added over the plan.

Run: .venv/bin/python bench/post_facts.py [--config config.toml] [--today 2026-12-04] [-n 3] [--show]
Uses config.toml's brand (the sample bakery) and its local generator. The machine may be shared:
the seconds are noisy, the counts are not (sampling is seeded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from brain import grounding  # noqa: E402
from brain.checks import NUMBER_RE, URL_RE  # noqa: E402
from brain.posts import draft_posts, make_plan, plan_post  # noqa: E402
from brain.generator import ChatMessage, GenerationOptions, TextGenerator  # noqa: E402
from brain.service import Brain  # noqa: E402

# Topics an owner of the sample bakery would type: covered by a fact, about the ended sale, or new.
TOPICS = [
    "our autumn sale",
    "home delivery",
    "our opening hours",
    "fresh cinnamon rolls",
    "christmas cookies",
]



class Recording:
    """The real generator, keeping what it wrote for the table."""

    def __init__(self, inner: TextGenerator) -> None:
        self.inner = inner
        self.name = inner.name
        self.raw: list[str] = []

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        return self.inner.generate(messages, options)

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        out = self.inner.generate_many(prompts, options)
        self.raw.extend(out)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 12, 4))
    parser.add_argument("--platform", default="telegram")
    parser.add_argument("-n", type=int, default=3, help="variants per topic")
    parser.add_argument("--show", action="store_true", help="print what the model wrote and what was posted")
    args = parser.parse_args()

    settings = load_settings(args.config)
    brain = Brain(settings)
    asyncio.run(brain.load())
    assert brain.generator is not None and brain.understander is not None
    generator, encoder, brand = brain.generator, brain.understander.encoder, settings.brand
    current_numbers = grounding.numbers(brand.current_facts(args.today))
    stale_only = grounding.stems(f.text for f in grounding.ended(brand, args.today)) - grounding.stems(brand.current_facts(args.today))

    recording = Recording(generator)
    rows = []
    for topic in TOPICS:
        recording.raw = []
        t0 = time.perf_counter()
        variants = draft_posts(recording, topic, args.platform, brand, args.n, encoder=encoder, today=args.today)
        seconds = time.perf_counter() - t0
        plan = make_plan(topic, brand, args.today, encoder)
        plan_words = grounding.stems([plan_post(plan, args.platform, brand)])
        best = variants[0]
        added = sorted(grounding.stems([best.text]) - plan_words) if best.source != "plan" else []
        invented = [n for v in variants for n in NUMBER_RE.findall(URL_RE.sub(" ", v.text)) if n not in current_numbers]
        stale = [v.text for v in variants if grounding.stems([v.text]) & stale_only]
        rows.append(
            {
                "topic": topic,
                "variants": len(variants),
                "model": sum(v.source == "model" for v in variants),
                "repaired": sum(v.source == "repaired" for v in variants),
                "plan": sum(v.source == "plan" for v in variants),
                "best_source": best.source,
                "best_passes_checks": not best.check_failures,
                "invented_numbers": len(invented),
                "stale_variants": len(stale),
                "words_added_over_plan": added,
                "seconds": round(seconds, 2),
            }
        )
        if args.show:
            print(f"\n## {topic}")
            for text in recording.raw:
                print(f"  model wrote: {text!r}")
            for v in variants:
                print(f"  [{v.source}, {v.score:.3f}] {v.text}")
                for note in v.notes:
                    print(f"      note: {note}")
    brain.close()

    print(f"\n{'topic':24} {'n':>2} {'model':>5} {'repaired':>8} {'plan':>4} {'best':>8} {'ok':>3} {'inv':>3} {'stale':>5} {'s':>6}  added over the plan")
    for r in rows:
        print(
            f"{r['topic']:24} {r['variants']:>2} {r['model']:>5} {r['repaired']:>8} {r['plan']:>4} {r['best_source']:>8} "
            f"{'yes' if r['best_passes_checks'] else 'no':>3} {r['invented_numbers']:>3} {r['stale_variants']:>5} {r['seconds']:>6.1f}  {' '.join(r['words_added_over_plan'])}"
        )
    total = {
        "topics": len(rows),
        "best_from_model_share": round(sum(r["best_source"] != "plan" for r in rows) / len(rows), 3),
        "variants_from_model_share": round(sum(r["model"] + r["repaired"] for r in rows) / max(1, sum(r["variants"] for r in rows)), 3),
        "best_passes_checks_share": round(sum(r["best_passes_checks"] for r in rows) / len(rows), 3),
        "invented_numbers": sum(r["invented_numbers"] for r in rows),
        "stale_variants": sum(r["stale_variants"] for r in rows),
        "seconds_per_topic_mean": round(sum(r["seconds"] for r in rows) / len(rows), 2),
        "rows": rows,
    }
    print(json.dumps(total))


if __name__ == "__main__":
    main()
