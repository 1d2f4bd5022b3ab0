"""Reply and post quality on the labelled set (bench/replies/): would the owner send what the bot drafts?

Run: .venv/bin/python bench/replies.py [--split tune|heldout|all] [--limit N] [--modes free,planned]
                                       [--voice-modes planned] [--no-posts]
For each sample business it builds real Settings (core.config.load_settings on a temporary config),
the real Brain (classifier, risk, generator) and the policy as bot/pipeline.py calls it, drafts a
reply to every row with the contact's earlier rows as history, and scores it with
bench/reply_judge.py. The heldout split is never used for tuning; it is reported on its own.
Each mode gets its own Brain and generator wrapper: nothing one mode computed is reused by another.
The machine may be shared: compare seconds within one run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, get_args

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.reply_judge import Business, Judge, Verdict  # noqa: E402
from core.config import Settings, load_settings  # noqa: E402
from brain.llama_choice import machine_and_weights  # noqa: E402
from brain import draft  # noqa: E402
from brain.generator import ChatMessage, GenerationOptions, TextGenerator  # noqa: E402
from brain.policy import Action, Situation, decide  # noqa: E402
from brain.service import Brain  # noqa: E402

DATA = ROOT / "bench" / "replies"
TODAY = date(2026, 12, 4)
PLATFORM = "telegram"
N_EXAMPLES = 3  # owner replies handed to the drafter per message
POST_VARIANTS = 3  # variants asked for per post topic, as `bot draft-post` does by default
VOICE_STEPS = (0, 20, 50, 100)
BASELINE_MODE = "free"  # today's drafting by the model alone: what the plan is compared against
INTENTS = (
    "complaint", "feedback", "greeting", "other", "praise",
    "purchase_intent", "question", "spam", "support_request", "unsubscribe",
)  # fmt: skip


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def brand_sections(path: Path) -> dict[str, str]:
    """Each business's table, as text: it becomes the [brand] section of a config file."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        header = re.fullmatch(r"\[(\w+)\]\s*", line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def load_businesses(path: Path, folder: Path) -> dict[str, Settings]:
    """Real Settings per business, through the bot's own parser."""
    cache = (ROOT / "data" / "models").as_posix()
    settings = {}
    for name, body in brand_sections(path).items():
        config = folder / f"{name}.toml"
        config.write_text(
            f'[bot]\ndata_dir = "{(ROOT / "data").as_posix()}"\nlog_level = "WARNING"\n\n'
            f'[models]\ncache_dir = "{cache}"\n\n[brand]\n{body}\n',
            encoding="utf-8",
        )
        settings[name] = load_settings(config)
    return settings


class CountingGenerator:
    """The real generator, counting the tokens it writes (words where the engine has no tokenizer)."""

    def __init__(self, inner: TextGenerator) -> None:
        self.inner = inner
        self.tokens = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _count(self, text: str) -> int:
        tokenize = getattr(self.inner, "tokenize", None)
        return len(tokenize(text)) if callable(tokenize) and text else len(text.split())

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        out = self.inner.generate(messages, options)
        self.tokens += self._count(out)
        return out

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        outs = self.inner.generate_many(prompts, options)
        self.tokens += sum(self._count(o) for o in outs)
        return outs


@dataclass
class Outcome:
    row: dict[str, Any]
    text: str
    action: str
    automatic: bool
    verdict: Verdict
    tokens: int | None  # None: nothing was drafted (spam ignored, the contact opted out)
    seconds: float | None
    predicted_sentiment: str
    predicted_intent: str = ""
    reason: str = ""  # the policy's reason, or why the draft waits
    worded_by: str = "plan"  # the plan's words, "model", or the owner's (reused, or the plan opened as they open)


class ExamplePool:
    """The owner's replies from the tune split, nearest first by the encoder; never the row itself."""

    def __init__(self, tune_rows: Sequence[dict[str, Any]], encoder: Any) -> None:
        self.rows = [r for r in tune_rows if r["owner_reply"]]
        self.vectors = encoder.encode([r["text"] for r in self.rows]) if self.rows else None
        self.encoder = encoder
        order = list(range(len(self.rows)))
        random.Random(0).shuffle(order)  # "the first k the owner approved": a fixed, mixed order
        self.rank = {self.rows[i]["id"]: k for k, i in enumerate(order)}

    def approved(self, row: dict[str, Any], available: int | None) -> list[tuple[str, str]]:
        """All the owner's replies available for this row (its business's, never its own): what
        the owner's habits are learnt from."""
        return [
            (ex["text"], ex["owner_reply"])
            for ex in self.rows
            if ex["business"] == row["business"] and ex["id"] != row["id"] and (available is None or self.rank[ex["id"]] < available)
        ]

    def pick(self, row: dict[str, Any], available: int | None) -> list[tuple[str, str]]:
        if self.vectors is None or available == 0:
            return []
        scores = self.vectors @ self.encoder.encode([row["text"]])[0]
        picked = []
        for i in sorted(range(len(self.rows)), key=lambda i: -float(scores[i])):
            ex = self.rows[i]
            if ex["business"] != row["business"] or ex["id"] == row["id"]:
                continue
            if available is not None and self.rank[ex["id"]] >= available:
                continue
            picked.append((ex["text"], ex["owner_reply"]))
            if len(picked) == N_EXAMPLES:
                break
        return picked


async def run_replies(
    mode: str,
    rows: Sequence[dict[str, Any]],
    settings: dict[str, Settings],
    make_generator: Any,
    judge: Judge,
    pool_rows: Sequence[dict[str, Any]],
    available: int | None = None,
) -> list[Outcome]:
    """One mode over the rows, each business with a Brain of its own."""
    outcomes: list[Outcome] = []
    by_business: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_business[row["business"]].append(row)
    for name, its_rows in by_business.items():
        s = settings[name]
        generator = CountingGenerator(make_generator(s))
        brain = Brain(s, generator=generator)
        await brain.load()
        assert brain.understander is not None
        pool = ExamplePool(pool_rows, brain.understander.encoder)
        business = Business.from_brand(s.brand, TODAY)
        said: dict[str, list[str]] = defaultdict(list)
        history: dict[str, list[tuple[str, str]]] = defaultdict(list)
        opted_out: set[str] = set()
        try:
            for done, row in enumerate(its_rows):
                if done and done % 25 == 0:
                    print(f"{mode} {name}: {done}/{len(its_rows)} rows", file=sys.stderr, flush=True)
                contact, text = row["contact"], row["text"]
                u = await brain.understand(text)
                risk = await brain.assess_risk(text)
                situation = Situation(platform=PLATFORM, contact_opted_out=contact in opted_out)
                decision = decide(u, risk, s.policy, situation)
                reply, automatic, tokens, seconds, why = "", False, None, None, decision.reason
                worded_by = "plan"
                if decision.action is Action.opt_out:
                    opted_out.add(contact)
                elif decision.action is not Action.ignore_spam:
                    before, started = generator.tokens, time.perf_counter()
                    drafted = await brain.draft_reply(
                        text,
                        u,
                        history[contact][-s.policy.history_size :] if s.policy.history_size else [],
                        platform=PLATFORM,
                        mode=mode,
                        examples=pool.pick(row, available),
                        today=TODAY,
                        habit=brain.opening_habit(pool.approved(row, available), TODAY),
                    )
                    seconds, tokens = time.perf_counter() - started, generator.tokens - before
                    reply = drafted.text
                    worded_by = next((n.removeprefix("worded by: ") for n in drafted.check_failures if n.startswith("worded by: ")), "plan")
                    automatic = decision.action is Action.auto_reply and not drafted.needs_review and bool(reply)
                    if decision.action is Action.auto_reply and not automatic:
                        why = "; ".join(drafted.check_failures) or "the draft needs a look"

                verdict = judge.reply(reply, row, business, list(reversed(said[contact])))
                outcomes.append(
                    Outcome(row, reply, str(decision.action), automatic, verdict, tokens, seconds, u.sentiment, u.intent, why, worded_by)
                )
                said[contact].append(text)
                if reply:
                    history[contact].append((text, reply))
        finally:
            brain.close()
    return outcomes


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1])


def reply_figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    ok = [o.verdict.acceptable for o in outcomes]
    per_intent = {}
    for intent in INTENTS:
        mine = [o for o in outcomes if o.row["intent"] == intent]
        per_intent[intent] = {"n": len(mine), "acceptable_pct": _pct(sum(o.verdict.acceptable for o in mine), len(mine))}
    auto = [o for o in outcomes if o.automatic]
    answerable = [o for o in outcomes if o.row["intent"] == "question" and o.row["answer"]]
    gold_handoff = [o for o in outcomes if "handoff" in o.row["must"]]
    said_handoff = [o for o in outcomes if o.verdict.handoff]
    both = [o for o in said_handoff if "handoff" in o.row["must"]]
    drafted = [o for o in outcomes if o.seconds is not None]
    tokens = [float(o.tokens or 0) for o in drafted]
    seconds = [o.seconds or 0.0 for o in drafted]
    sarcastic = [o for o in outcomes if o.row["sarcastic"]]
    return {
        "n": len(outcomes),
        "acceptable_pct": _pct(sum(ok), len(ok)),
        "per_intent": per_intent,
        "auto_sent": len(auto),
        "auto_acceptable_pct": _pct(sum(o.verdict.acceptable for o in auto), len(auto)),
        "answerable_n": len(answerable),
        "answered_right_fact_pct": _pct(sum(o.verdict.answered for o in answerable), len(answerable)),
        "invented_count": sum(len(o.verdict.invented) for o in outcomes),
        "handoff_precision_pct": _pct(len(both), len(said_handoff)),
        "handoff_recall_pct": _pct(len(both), len(gold_handoff)),
        "sarcastic_n": len(sarcastic),
        "sarcastic_acceptable_pct": _pct(sum(o.verdict.acceptable for o in sarcastic), len(sarcastic)),
        "sarcastic_sentiment_right_pct": _pct(sum(o.predicted_sentiment == o.row["sentiment"] for o in sarcastic), len(sarcastic)),
        "tokens_per_reply_p50": _quantile(tokens, 50),
        "tokens_per_reply_p95": _quantile(tokens, 95),
        "seconds_per_reply_p50_s": None if not seconds else round(_quantile(seconds, 50) or 0.0, 3),
        "seconds_per_reply_p95_s": None if not seconds else round(_quantile(seconds, 95) or 0.0, 3),
    }


# How a reply opens, read by the bench on its own (brain/voice.py is what is measured): the
# first sentence's move, or "straight" when it goes straight to the point ("Yes, ..." included).
_OPENINGS = (
    ("hello", re.compile(r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening))\b", re.IGNORECASE)),
    ("apology", re.compile(r"\b(sorry|apologi[sz]e|apologies)\b", re.IGNORECASE)),
    ("thanks", re.compile(r"\b(thank|thanks|thx|appreciate)", re.IGNORECASE)),
)
_FIRST_SENTENCE_RE = re.compile(r"^.*?(?:[.!?](?=\s|$)|$)", re.DOTALL)
_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9':.]*[a-z0-9]|[a-z0-9]")


def opening_move(reply: str) -> str:
    """hello, apology, thanks, or straight (to the point), from the first sentence."""
    match = _FIRST_SENTENCE_RE.match(reply.strip())
    first = match.group(0) if match else ""
    return next((name for name, pattern in _OPENINGS if pattern.search(first)), "straight")


def wording_f1(draft_text: str, owner: str) -> float:
    """How much of the owner's wording a draft uses: F1 of their lower-cased words (each word once)."""
    mine, theirs = set(_TOKEN_RE.findall(draft_text.lower())), set(_TOKEN_RE.findall(owner.lower()))
    if not mine or not theirs:
        return 0.0
    common = len(mine & theirs)
    return 0.0 if not common else 2 * common / (len(mine) + len(theirs))


VOICE_MEASURES = (
    ("acceptable_pct", "acceptable %"),
    ("owner_similarity", "cosine to the owner's reply"),
    ("opening_match_pct", "opens as the owner does %"),
    ("owner_wording_f1", "owner's words (F1)"),
    ("owner_reply_reused", "owner's reply reused"),
    ("owner_reply_reused_acceptable", "  of them acceptable"),
    ("opened_as_owner", "plan opened as the owner opens"),
)


def voice_figures(outcomes: Sequence[Outcome], encoder: Any) -> dict[str, Any]:
    """Acceptable rate, and closeness to what the owner would have sent: in meaning (encoder cosine,
    which the facts dominate), in how the reply opens (the same move as the owner's first sentence)
    and in wording (word F1); how many replies were the owner's own words or opened as they open."""
    scored = [o for o in outcomes if o.row["owner_reply"]]
    drafted = [o for o in scored if o.text]
    sims = []
    if scored:
        drafts = encoder.encode([o.text or " " for o in scored])
        owners = encoder.encode([o.row["owner_reply"] for o in scored])
        sims = [float(d @ w) if o.text else 0.0 for o, d, w in zip(scored, drafts, owners)]
    reused = [o for o in outcomes if o.worded_by.startswith("owner's reply")]
    return {
        "acceptable_pct": _pct(sum(o.verdict.acceptable for o in outcomes), len(outcomes)),
        "owner_similarity": round(statistics.fmean(sims), 3) if sims else None,
        "opening_match_pct": _pct(sum(opening_move(o.text) == opening_move(o.row["owner_reply"]) for o in drafted), len(drafted)),
        "owner_wording_f1": round(statistics.fmean(wording_f1(o.text, o.row["owner_reply"]) for o in drafted), 3) if drafted else None,
        "owner_reply_reused": len(reused),
        "owner_reply_reused_acceptable": sum(o.verdict.acceptable for o in reused),
        "opened_as_owner": sum(o.worded_by.startswith("the plan, opened") for o in outcomes),
        "by_model": sum(o.worded_by == "model" for o in outcomes),
    }


@dataclass
class PostOutcome:
    row: dict[str, Any]
    text: str
    verdict: Verdict
    seconds: float
    notes: tuple[str, ...]  # what the owner is told with the top variant
    variants: tuple[Verdict, ...] = ()  # every variant the owner is offered, judged, best first


def run_posts(
    rows: Sequence[dict[str, Any]], settings: dict[str, Settings], make_generator: Any, judge: Judge, encoder: Any
) -> list[PostOutcome]:
    """The top-ranked variant of each topic, judged (posts have one way of drafting: the plan), and
    every variant of the POST_VARIANTS asked for, judged too: the owner picks among them."""
    outcomes = []
    generators: dict[str, CountingGenerator] = {}
    for row in rows:
        s = settings[row["business"]]
        generator = generators.setdefault(row["business"], CountingGenerator(make_generator(s)))
        started = time.perf_counter()
        variants = draft.draft_post(generator, row["topic"], row["platform"], s.brand, POST_VARIANTS, encoder=encoder, today=TODAY)
        seconds = time.perf_counter() - started
        business = Business.from_brand(s.brand, TODAY)
        judged = tuple(judge.post(v.text, row, business) for v in variants)
        text = variants[0].text if variants else ""
        verdict = judged[0] if judged else judge.post(text, row, business)
        outcomes.append(PostOutcome(row, text, verdict, seconds, variants[0].notes if variants else (), judged))
    return outcomes


def post_figures(outcomes: Sequence[PostOutcome]) -> dict[str, Any]:
    seconds = [o.seconds for o in outcomes]
    every = [v for o in outcomes for v in o.variants]
    return {
        "n": len(outcomes),
        "publishable_pct": _pct(sum(o.verdict.acceptable for o in outcomes), len(outcomes)),
        "invented_count": sum(len(o.verdict.invented) for o in outcomes),
        "variants_per_topic_mean": None if not outcomes else round(len(every) / len(outcomes), 2),
        "all_variants_publishable_pct": _pct(sum(v.acceptable for v in every), len(every)),
        "all_variants_invented_count": sum(len(v.invented) for v in every),
        "seconds_per_post_p50_s": None if not seconds else round(_quantile(seconds, 50) or 0.0, 3),
    }


def batch_groups(split: str, outcomes: Sequence[Any], figures: Callable[[Sequence[Any]], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The split's figures, and each batch of rows on its own when rows were added later (a batch
    is written at once, so a later one is measured apart from the earlier figures); a row without
    `batch` is of batch 1."""
    groups = {split: figures(outcomes)}
    batches = sorted({o.row.get("batch", 1) for o in outcomes})
    if len(batches) > 1:
        for batch in batches:
            groups[f"{split} batch {batch}"] = figures([o for o in outcomes if o.row.get("batch", 1) == batch])
    return groups


def post_groups(split: str, outcomes: Sequence[PostOutcome]) -> dict[str, dict[str, Any]]:
    """The post figures of a split, and of each batch of topics."""
    return batch_groups(split, outcomes, post_figures)


def reply_groups(split: str, outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """The reply figures of a split, and of each batch of messages."""
    return batch_groups(split, outcomes, reply_figures)


def pick_rows(rows: Sequence[dict[str, Any]], split: str, limit: int | None) -> dict[str, list[dict[str, Any]]]:
    """The rows of each split; with a limit, the first rows of each business in turn (so a
    short run still sees every business), in file order, so conversations stay in order."""
    splits = ("tune", "heldout") if split == "all" else (split,)
    picked = {}
    for name in splits:
        mine = [r for r in rows if r["split"] == name]
        if limit is not None:
            queues: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in mine:
                queues[r["business"]].append(r)
            taken: list[dict[str, Any]] = []
            while len(taken) < limit and any(queues.values()):
                for queue in queues.values():
                    if queue and len(taken) < limit:
                        taken.append(queue.pop(0))
            keep = {id(r) for r in taken}
            mine = [r for r in mine if id(r) in keep]
        picked[name] = mine
    return picked


def print_tables(figures: dict[str, Any], examples: list[tuple[str, str, Outcome]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    main = Table(title=f"Replies on the labelled set (today = {TODAY}); heldout is never tuned on")
    for col in ("mode", "split", "n", "acceptable %", "auto sent", "auto acceptable %", "right fact %", "invented",
                "hand-off P %", "hand-off R %", "sarcastic ok %", "tokens p50/p95", "s/reply p50/p95"):  # fmt: skip
        main.add_column(col, justify="right" if col not in ("mode", "split") else "left")
    by_intent = Table(title="Acceptable % by gold intent (n)")
    by_intent.add_column("intent")
    for mode, per_split in figures["modes"].items():
        for split, f in per_split.get("replies", {}).items():
            by_intent.add_column(f"{mode} {split}", justify="right")
            main.add_row(
                mode, split, str(f["n"]), _fmt(f["acceptable_pct"]), str(f["auto_sent"]), _fmt(f["auto_acceptable_pct"]),
                _fmt(f["answered_right_fact_pct"]), str(f["invented_count"]), _fmt(f["handoff_precision_pct"]),
                _fmt(f["handoff_recall_pct"]), _fmt(f["sarcastic_acceptable_pct"]),
                f"{_fmt(f['tokens_per_reply_p50'])}/{_fmt(f['tokens_per_reply_p95'])}",
                f"{_fmt(f['seconds_per_reply_p50_s'])}/{_fmt(f['seconds_per_reply_p95_s'])}",
            )  # fmt: skip
    for intent in INTENTS:
        cells = []
        for per_split in figures["modes"].values():
            for f in per_split.get("replies", {}).values():
                i = f["per_intent"][intent]
                cells.append(f"{_fmt(i['acceptable_pct'])} ({i['n']})")
        by_intent.add_row(intent, *cells)
    console.print(main)
    console.print(by_intent)
    for mode, per_split in figures["modes"].items():
        voice = per_split.get("voice")
        if voice:
            t = Table(title=f"Learning the owner's voice ({mode}): owner replies available as examples")
            t.add_column("split / measure")
            for k in VOICE_STEPS:
                t.add_column(f"{k} examples", justify="right")
            for split, steps in voice.items():
                for key, label in VOICE_MEASURES:
                    t.add_row(f"{split} {label}", *[_fmt(steps[str(k)][key]) for k in VOICE_STEPS])
            console.print(t)
    posts = Table(title=f"Posts (top-ranked of {POST_VARIANTS} variants asked for; then every variant offered)")
    for col in ("split", "n", "publishable %", "invented", "variants per topic", "all variants publishable %", "all variants invented", "s/post p50"):
        posts.add_column(col)
    for split, f in figures.get("posts", {}).items():
        posts.add_row(
            split, str(f["n"]), _fmt(f["publishable_pct"]), str(f["invented_count"]), _fmt(f["variants_per_topic_mean"]),
            _fmt(f["all_variants_publishable_pct"]), str(f["all_variants_invented_count"]), _fmt(f["seconds_per_post_p50_s"]),
        )
    console.print(posts)
    if examples:
        t = Table(title="A few unacceptable replies", show_lines=True)
        for col in ("mode", "follower", "draft", "why"):
            t.add_column(col, overflow="fold")
        for mode, text, o in examples:
            t.add_row(mode, text, o.text or "(nothing)", "; ".join(o.verdict.problems)[:200])
        console.print(t)


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


def real_generator(settings: Settings) -> TextGenerator:
    from brain.service import build_generator

    return build_generator(settings)


async def run(args: argparse.Namespace, make_generator: Any = None) -> dict[str, Any]:
    """make_generator(settings) -> the generator each Brain drafts with (default: the configured one)."""
    make_generator = make_generator or _cached(real_generator)
    rows = read_jsonl(DATA / "messages.jsonl")
    post_rows = read_jsonl(DATA / "posts.jsonl")
    tune = [r for r in rows if r["split"] == "tune"]
    chosen = pick_rows(rows, args.split, args.limit)
    chosen_posts = pick_rows(post_rows, args.split, args.limit)
    modes = [m for m in args.modes.split(",") if m]
    voice_modes = {m for m in args.voice_modes.split(",") if m}
    with tempfile.TemporaryDirectory() as folder:
        settings = load_businesses(DATA / "businesses.toml", Path(folder))
    first = next(iter(settings.values()))
    # The probe's encoder serves the judge and the figures: it stays open until they are done.
    with Brain(first, generator=make_generator(first)) as probe:
        await probe.load()
        assert probe.understander is not None
        encoder = probe.understander.encoder
        judge = Judge(encoder)
        figures: dict[str, Any] = {"today": TODAY.isoformat(), "platform": PLATFORM, "modes": {}}
        bad: list[tuple[str, str, Outcome]] = []
        baseline_rows = {
            split: pick_rows(its_rows, split, args.baseline_limit)[split] for split, its_rows in chosen.items()
        } if args.baseline_limit else {}
        kept: dict[tuple[str, str], list[Outcome]] = {}
        for mode in modes:
            entry: dict[str, Any] = {"replies": {}}
            figures["modes"][mode] = entry
            for split, its_rows in chosen.items():
                limited = mode == BASELINE_MODE and bool(baseline_rows)
                if limited:
                    its_rows = baseline_rows[split]
                outcomes = await run_replies(mode, its_rows, settings, make_generator, judge, tune)
                if limited:
                    entry["replies"][f"{split} first {args.baseline_limit}"] = reply_figures(outcomes)
                else:
                    entry["replies"] |= reply_groups(split, outcomes)
                kept[(mode, split)] = outcomes
                # Held-out rows are never shown one by one: looking at them would be tuning on them.
                if args.dump and split != "heldout":
                    write_outcomes(args.dump, mode, split, outcomes)
                if split != "heldout":
                    bad += [(mode, o.row["text"], o) for o in outcomes if not o.verdict.acceptable][:3]
                if mode in voice_modes:
                    steps = {}
                    for k in VOICE_STEPS:
                        voiced = await run_replies(mode, its_rows, settings, make_generator, judge, tune, available=k)
                        steps[str(k)] = voice_figures(voiced, encoder)
                    entry.setdefault("voice", {})[split] = steps
        # The other modes on the same rows as the limited baseline, for a like-for-like comparison.
        for (mode, split), outcomes in kept.items():
            if baseline_rows and mode != BASELINE_MODE:
                ids = {r["id"] for r in baseline_rows[split]}
                same = [o for o in outcomes if o.row["id"] in ids]
                figures["modes"][mode]["replies"][f"{split} first {args.baseline_limit}"] = reply_figures(same)
        if not args.no_posts:
            figures["posts"] = {}
            for split, its_posts in chosen_posts.items():
                post_outcomes = run_posts(its_posts, settings, make_generator, judge, encoder)
                if args.dump and split != "heldout":
                    write_posts(args.dump, split, post_outcomes)
                figures["posts"] |= post_groups(split, post_outcomes)
        print_tables(figures, bad[:9])
        return figures


def write_outcomes(folder: Path, mode: str, split: str, outcomes: Sequence[Outcome]) -> None:
    """One JSON line per row (what was drafted, the verdict, whether it went out), to read the misses."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{mode}-{split}.jsonl").open("w", encoding="utf-8") as out:
        for o in outcomes:
            record = {
                "id": o.row["id"], "intent": o.row["intent"], "predicted_intent": o.predicted_intent,
                "text": o.row["text"], "reply": o.text, "acceptable": o.verdict.acceptable,
                "problems": list(o.verdict.problems), "action": o.action, "automatic": o.automatic, "reason": o.reason,
            }  # fmt: skip
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_posts(folder: Path, split: str, outcomes: Sequence[PostOutcome]) -> None:
    """One JSON line per post topic: the top variant, the judge's problems and the owner's notes."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"posts-{split}.jsonl").open("w", encoding="utf-8") as out:
        for o in outcomes:
            record = {
                "id": o.row["id"], "topic": o.row["topic"], "post": o.text, "acceptable": o.verdict.acceptable,
                "problems": list(o.verdict.problems), "notes": list(o.notes),
            }  # fmt: skip
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _cached(factory: Any) -> Any:
    """One generator per configuration: loading the model once per business and mode is slow, and
    the generator keeps no state between calls that favours a mode (its prefix reuse is per prompt)."""
    made: dict[str, TextGenerator] = {}

    def make(settings: Settings) -> TextGenerator:
        key = settings.models.model_dump_json() + settings.generator.model_dump_json()
        if key not in made:
            made[key] = factory(settings)
        return made[key]

    return make


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "heldout", "all"), default="all")
    parser.add_argument("--limit", type=int, default=None, help="the first N rows (and post topics) of each split")
    parser.add_argument("--modes", default="free,planned", help="reply modes to compare, comma-separated")
    parser.add_argument("--voice-modes", default="planned", help="modes that also get the 0/20/50/100-examples runs")
    parser.add_argument("--no-posts", action="store_true", help="skip the post topics")
    parser.add_argument(
        "--baseline-limit", type=int, default=None,
        help=f"run the '{BASELINE_MODE}' mode (the slow model) on only the first N rows of each split; the other modes are also reported on those rows",
    )
    parser.add_argument("--dump", type=Path, default=None, help="a folder: one MODE-SPLIT.jsonl per run, a line per row (the tune split only: held-out rows are never shown)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.baseline_limit is not None and args.baseline_limit < 1:
        parser.error("--baseline-limit must be at least 1")
    known = get_args(draft.ReplyMode)
    if unknown := [m for m in args.modes.split(",") if m and m not in known]:
        parser.error(f"unknown mode {unknown[0]!r}: the modes are {', '.join(known)}")
    return args


def main(argv: Sequence[str] | None = None, make_generator: Any = None) -> dict[str, Any]:
    figures = asyncio.run(run(parse_args(argv), make_generator))
    figures |= machine_and_weights(load_settings(ROOT / "config.toml"))
    print(json.dumps(figures, ensure_ascii=False))
    return figures


if __name__ == "__main__":
    main()
