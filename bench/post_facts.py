"""Posts held to the facts, on the labelled post topics (bench/replies/posts.jsonl): publishable share,
invented facts, and what the real model adds over the plan's own wording.

Run: .venv/bin/python bench/post_facts.py [--split tune|heldout|all] [--generator model|plan] [-n 3] [--show]
     [--set bench/replies] [--today 2026-12-04]
--generator plan stands in a generator that writes nothing, so every post is the plan's wording: the
floor the model has to beat. --show prints what the model wrote and what was kept (never use it on
the heldout split while tuning). The machine may be shared: the seconds are noisy, the rest is not
(sampling is seeded).

A post is publishable when it passes the checks, states every answer token of its row (one of the
alternatives, case-insensitive), contains none of the row's forbidden phrases, and invents nothing:
no number, link or @handle outside the facts that hold or start later, the topic and the allowed ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import BrandSettings, load_settings  # noqa: E402
from brain.checks import HANDLE_RE, NUMBER_RE, URL_RE, _link_allowed  # noqa: E402
from brain.generator import ChatMessage, GenerationOptions, TextGenerator  # noqa: E402
from brain.grounding import stems  # noqa: E402
from brain.posts import PostDraft, draft_posts, make_plan, plan_post  # noqa: E402
from brain.service import Brain  # noqa: E402


class Recording:
    """The real generator (or none: the plan alone), keeping what it wrote for --show."""

    def __init__(self, inner: TextGenerator | None) -> None:
        self.inner = inner
        self.name = inner.name if inner else "plan-only"
        self.raw: list[str] = []

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        return self.generate_many([messages], options)[0]

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        out = self.inner.generate_many(prompts, options) if self.inner else ["" for _ in prompts]
        self.raw.extend(out)
        return out


def invented(text: str, topic: str, brand: BrandSettings, today: date) -> list[str]:
    """Numbers, links and handles nothing configured supports (ended facts support nothing)."""
    allowed_facts = [f.text for f in brand.facts if f.until is None or f.until >= today]
    known = set(NUMBER_RE.findall(" ".join([*allowed_facts, topic])))
    dates = {str(n) for f in brand.facts if f.from_ and f.from_ > today for n in (f.from_.day, f.from_.year)}
    found = [link for link in URL_RE.findall(text) if not _link_allowed(link, brand.allowed_links)]
    found += [h for h in HANDLE_RE.findall(text) if h.lower() not in {a.lower() for a in brand.allowed_handles}]
    found += [n for n in NUMBER_RE.findall(URL_RE.sub(" ", text)) if n not in known | dates]
    return found


def judge(row: dict[str, Any], post: PostDraft, brand: BrandSettings, today: date) -> dict[str, Any]:
    lowered = post.text.lower()
    missing = [group[0] for item in row["answer"] for group in item["tokens"] if not any(t.lower() in lowered for t in group)]
    forbidden = [phrase for phrase in row["forbid"] if phrase.lower() in lowered]
    made_up = invented(post.text, row["topic"], brand, today)
    return {
        "publishable": not (post.check_failures or missing or forbidden or made_up),
        "missing": missing,
        "forbidden": forbidden,
        "invented": made_up,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=ROOT / "bench" / "replies", help="folder with posts.jsonl and businesses.toml")
    parser.add_argument("--split", choices=["tune", "heldout", "all"], default="tune")
    parser.add_argument("--generator", choices=["model", "plan"], default="model")
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 12, 4))
    parser.add_argument("-n", type=int, default=3, help="variants per topic")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()

    posts_file, businesses_file = args.set / "posts.jsonl", args.set / "businesses.toml"
    if not posts_file.exists() or not businesses_file.exists():
        sys.exit(f"error: {posts_file} or {businesses_file} is missing (the labelled set of branch replyset)")
    rows = [json.loads(line) for line in posts_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    brands = {name: BrandSettings.model_validate(table) for name, table in tomllib.loads(businesses_file.read_text(encoding="utf-8")).items()}

    settings = load_settings(ROOT / "config.toml")
    brain = Brain(settings, generator=None if args.generator == "model" else Recording(None))
    asyncio.run(brain.load())
    assert brain.generator is not None and brain.understander is not None
    generator = Recording(brain.generator if args.generator == "model" else None)
    encoder = brain.understander.encoder

    results = []
    for row in rows:
        brand = brands[row["business"]]
        generator.raw = []
        t0 = time.perf_counter()
        variants = draft_posts(generator, row["topic"], row["platform"], brand, args.n, encoder=encoder, today=args.today)
        seconds = time.perf_counter() - t0
        best = variants[0]
        verdict = judge(row, best, brand, args.today)
        plan_words = stems([plan_post(make_plan(row["topic"], brand, args.today, encoder), row["platform"], brand)])
        results.append(
            {
                "id": row["id"],
                **verdict,
                "any_publishable": any(judge(row, v, brand, args.today)["publishable"] for v in variants),
                "invented_any_variant": sum(len(invented(v.text, row["topic"], brand, args.today)) for v in variants),
                "best_source": best.source,
                "model_variants": sum(v.source != "plan" for v in variants),
                "variants": len(variants),
                "words_added_over_plan": sorted(stems([best.text]) - plan_words),
                "seconds": round(seconds, 2),
            }
        )
        if args.show:
            print(f"\n## {row['id']}: {row['topic']}")
            for text in generator.raw:
                print(f"  model wrote: {text!r}")
            for v in variants:
                print(f"  [{v.source}, {v.score:.3f}] {v.text}")
                for note in v.notes:
                    print(f"      note: {note}")
            print(f"  verdict: {verdict}")
    brain.close()

    print(f"\n{'id':18} {'ok':>3} {'best':>8} {'model':>5} {'s':>5}  why not / words the model added")
    for r in results:
        why = "; ".join(f"{k}: {', '.join(r[k])}" for k in ("missing", "forbidden", "invented") if r[k])
        print(f"{r['id']:18} {'yes' if r['publishable'] else 'no':>3} {r['best_source']:>8} {r['model_variants']:>2}/{r['variants']:<2} {r['seconds']:>5.1f}  {why or ' '.join(r['words_added_over_plan'])}")
    n = max(1, len(results))
    summary = {
        "split": args.split,
        "generator": args.generator,
        "topics": len(results),
        "publishable_share": round(sum(r["publishable"] for r in results) / n, 3),
        "any_variant_publishable_share": round(sum(r["any_publishable"] for r in results) / n, 3),
        "invented_facts_best": sum(len(r["invented"]) for r in results),
        "invented_facts_all_variants": sum(r["invented_any_variant"] for r in results),
        "best_from_model_share": round(sum(r["best_source"] != "plan" for r in results) / n, 3),
        "variants_from_model_share": round(sum(r["model_variants"] for r in results) / max(1, sum(r["variants"] for r in results)), 3),
        "seconds_per_topic_mean": round(sum(r["seconds"] for r in results) / n, 2),
    }
    print(f"\npublishable {summary['publishable_share']:.0%} of {len(results)} topics, invented facts {summary['invented_facts_all_variants']}, "
          f"best post from the model {summary['best_from_model_share']:.0%}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
