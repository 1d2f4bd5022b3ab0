"""Training the fact relevance cross-encoder (brain/relevance.py) on the written fact-question sets.

Every message of brain/datasets/fact_questions/*.jsonl is paired with every fact of its business:
the facts its row lists answer it, the others do not (near-misses on the same topic among them).
The encoder's bottom `start` layers stay as they are, so their hidden states of every pair are
computed once (`cache`); `train` then fine-tunes a copy of the layers above and one linear head
on them (brain/branch.py's branch, the same way brain/branch_training.py trains sentiment's).
Validation is the bench's tune split (bench/replies: three other businesses, tune rows only,
never the held-out ones): the checkpoint that ranks the answering fact first most often and
rejects the facts beside the point of unanswerable questions is kept. Run from the repo root
under `nice -n 10`; the commands that built the shipped model are in brain/heads/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import torch

from brain.branch import BranchInfo, extended_mask, mean_pool, run_layers, save_branch
from brain.branch_training import ENCODER, Cached, _batches, _model, cache_texts, load_cached, optimizer_for, seeded_start
from brain.heads import Head
from brain.relevance import RELEVANCE_DIR, pair_text
from core.config import BrandSettings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
WRITTEN = ROOT / "brain" / "datasets" / "fact_questions"
BENCH = ROOT / "bench" / "replies"
BENCH_TODAY = date(2026, 12, 4)  # bench/replies.py's today: which of its dated facts are current
LABELS = ["other", "answers"]


@dataclass(frozen=True)
class Pair:
    question: int  # which message (pairs of one message share it)
    fact: str
    message: str
    answers: bool
    complete: bool = True  # the facts that answer it say all it asks (written sets only)


def written_pairs(folder: Path = WRITTEN) -> list[Pair]:
    """Every (fact, message) pair of the written businesses."""
    pairs: list[Pair] = []
    question = 0
    for file in sorted(folder.glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            business = json.loads(line)
            facts = business["facts"]
            for q in business["questions"]:
                answers = set(q["answers"])
                # A follow-up is read with the message before it, as fact search reads one (brain/fact_search.py).
                text = f"{q['before'].strip()} {q['text'].strip()}" if q.get("before") else q["text"]
                pairs += [Pair(question, fact, text, k in answers, bool(q.get("complete", False))) for k, fact in enumerate(facts)]
                question += 1
    return pairs


def bench_tune_pairs() -> list[Pair]:
    """The bench's tune messages that a fact answers or that no fact does (a hand-off), each paired
    with its business's current facts. Held-out rows are never read."""
    tables = tomllib.loads((BENCH / "businesses.toml").read_text(encoding="utf-8"))
    brands = {name: BrandSettings.model_validate(table) for name, table in tables.items()}
    pairs: list[Pair] = []
    question = 0
    for line in (BENCH / "messages.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] != "tune" or not (row.get("answer") or "handoff" in row.get("must", [])):
            continue
        facts = brands[row["business"]].current_facts(BENCH_TODAY)
        gold = {a["fact"] for a in row.get("answer", [])}
        pairs += [Pair(question, fact, row["text"], fact in gold) for fact in facts]
        question += 1
    return pairs


def cache(out: Path, start: int) -> None:
    """Layer-`start` hidden states of every written pair and every bench tune pair."""
    model, tokenizer, pad = _model()
    out.mkdir(parents=True, exist_ok=True)
    for name, pairs in (("written", written_pairs()), ("bench_tune", bench_tune_pairs())):
        begun = time.perf_counter()
        cache_texts(model, tokenizer, pad, [pair_text(p.fact, p.message) for p in pairs], out, name, [start])
        (out / f"{name}.labels.json").write_text(json.dumps([LABELS[p.answers] for p in pairs]), encoding="utf-8")
        (out / f"{name}.questions.json").write_text(json.dumps([p.question for p in pairs]), encoding="utf-8")
        log.info("%s: %d pairs cached in %.0f s", name, len(pairs), time.perf_counter() - begun)


def _load(folder: Path, name: str, start: int) -> tuple[Cached, np.ndarray]:
    """The cached states of a set of pairs, and which message each pair belongs to."""
    questions = json.loads((folder / f"{name}.questions.json").read_text(encoding="utf-8"))
    return load_cached(folder, name, start), np.array(questions)


class RelevanceModel(torch.nn.Module):
    """The branch's layers and a linear head over their pooled last layer, read as Head.proba reads
    it (L2-normalised, times sqrt(dim)), so the head saves as a Head."""

    def __init__(self, layers: torch.nn.ModuleList, dim: int) -> None:
        super().__init__()
        self.layers = layers
        self.root = dim**0.5
        self.head = torch.nn.Linear(dim, len(LABELS))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        states = run_layers(self.layers, hidden, extended_mask(mask, hidden.dtype))
        pooled = mean_pool(states[-1], mask)
        return self.head(pooled / pooled.norm(dim=1, keepdim=True).clamp(min=1e-9) * self.root)


@torch.no_grad()
def probabilities(model: RelevanceModel, data: Cached, size: int = 128) -> np.ndarray:
    model.eval()
    order = np.argsort(np.diff(data.offsets), kind="stable")
    out = np.zeros(len(order), dtype=np.float32)
    for b in range(0, len(order), size):
        idx = order[b : b + size]
        out[idx] = torch.softmax(model(*data.batch(idx)), dim=1)[:, 1].numpy()
    model.train()
    return out


def figures(p: np.ndarray, labels: list[str], questions: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Per message: an answerable one's answering fact ranked first (top1), and above the
    threshold (found); an unanswerable one's facts all below it (rejected)."""
    y = np.array([lab == "answers" for lab in labels])
    top1, found, rejected, n_answerable, n_other = 0, 0, 0, 0, 0
    for q in np.unique(questions):
        sel = questions == q
        pq, yq = p[sel], y[sel]
        if yq.any():
            n_answerable += 1
            top1 += int(yq[pq.argmax()])
            found += int(yq[pq.argmax()] and pq.max() >= threshold)
        else:
            n_other += 1
            rejected += int(pq.max() < threshold)
    return {
        "top1": top1 / max(n_answerable, 1), "found": found / max(n_answerable, 1), "rejected": rejected / max(n_other, 1),
        "answerable": n_answerable, "unanswerable": n_other,
    }


def train(cache_dir: Path, start: int, epochs: float, out: Path, *, batch_size: int = 32, lr: float = 1e-4, eval_every: int = 100, seed: int = 0, positive_weight: float = 3.0) -> None:
    """Fine-tune the branch and head on the written pairs; keep the checkpoint best on the bench's
    tune split (found + rejected: an answer stated and a wrong fact kept back count alike)."""
    rng, base, layers, dim, n_total = seeded_start(seed, start)
    model = RelevanceModel(layers, dim)
    del base
    data, _ = _load(cache_dir, "written", start)
    val, val_questions = _load(cache_dir, "bench_tune", start)
    targets = np.array([LABELS.index(lab) for lab in data.labels], dtype=np.int64)
    weight = torch.tensor([1.0, positive_weight])
    plan: list[np.ndarray] = []
    for _ in range(int(np.ceil(epochs))):
        plan += _batches(data, batch_size, rng)
    plan = plan[: int(len(plan) / np.ceil(epochs) * epochs)]
    optimizer, schedule = optimizer_for(model, len(plan), lr)
    best, best_state, history = -1.0, None, []
    model.train()
    started = time.perf_counter()
    for step, idx in enumerate(plan, start=1):
        loss = torch.nn.functional.cross_entropy(model(*data.batch(idx)), torch.from_numpy(targets[idx]), weight=weight)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 25 == 0:
            log.info("step %d/%d loss %.3f (%.2f s/step)", step, len(plan), loss.item(), (time.perf_counter() - started) / 25)
            started = time.perf_counter()
        if step % eval_every == 0 or step == len(plan):
            result = figures(probabilities(model, val), val.labels, val_questions) | {"step": step}
            history.append(result)
            log.info("bench tune at step %d: %s", step, result)
            if result["found"] + result["rejected"] > best:
                best = result["found"] + result["rejected"]
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            started = time.perf_counter()
    model.load_state_dict(best_state)  # type: ignore[arg-type]
    final = figures(probabilities(model, val), val.labels, val_questions)
    info = BranchInfo(start=start, n_layers=n_total - start, base=ENCODER)
    record = {
        "data": {"train": str(WRITTEN.relative_to(ROOT)), "pairs": len(data.labels), "positive": int(targets.sum())},
        "chosen_on": "bench/replies tune split: found + rejected at 0.5 (the best of the checkpoints in history)",
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "lr": lr, "positive_weight": positive_weight,
        "steps": len(plan), "bench_tune": final, "history": history,
    }
    save_branch(model.layers, info, out, record)
    # The head reads the branch's last pooled layer: shared layers 0..n_total, then the branch's.
    Head(
        task="relevance", labels=LABELS, layers=(n_total + 1 + info.n_layers - 1,), mean=np.zeros(dim, np.float32),
        scale=np.full(dim, 1 / model.root, dtype=np.float32), coef=model.head.weight.detach().numpy().astype(np.float32),
        intercept=model.head.bias.detach().numpy().astype(np.float32), info={"trained_with_branch": out.name, "bench_tune_fp32": final},
    ).save(out / "head")
    log.info("relevance model saved to %s: %s", out, final)


def written_questions(folders: list[Path]) -> tuple[list[str], list[str | None]]:
    """Every written message (a follow-up read with the one before it) and the first fact that
    answers it, None when no fact does."""
    texts: list[str] = []
    answers: list[str | None] = []
    for folder in folders:
        first: dict[int, tuple[str, str | None]] = {}
        for pair in written_pairs(folder):
            message, answer = first.get(pair.question, (pair.message, None))
            first[pair.question] = (message, answer if answer is not None or not pair.answers else pair.fact)
        texts += [message for message, _ in first.values()]
        answers += [answer for _, answer in first.values()]
    return texts, answers


def neighbours(folder: Path, extra: Path | None) -> None:
    """The written questions' votes for the cross-encoder in folder (brain/fact_neighbours.py):
    embedded by the shared encoder of config.toml, and combined with the cross-encoder's P by a
    logistic model fitted on the bench's tune split (pairs of its answerable and hand-off rows)."""
    from sklearn.linear_model import LogisticRegression

    from brain.fact_neighbours import VOTE_FLOOR, Combination, Neighbours
    from brain.relevance import load_relevance
    from brain.service import load_encoder
    from core.config import load_settings

    encoder = load_encoder(load_settings(ROOT / "config.toml"))
    texts, answers = written_questions([WRITTEN, *([extra] if extra is not None else [])])
    facts = sorted({a for a in answers if a is not None})
    index = {fact: k for k, fact in enumerate(facts)}
    begun = time.perf_counter()
    table = Neighbours(
        encoder.encode(texts), np.array([index[a] if a is not None else -1 for a in answers]), encoder.encode(facts), encoder.name,
        Combination(1.0, 0.0, 0.0),
    )
    log.info("%d written questions and %d facts embedded in %.0f s", len(texts), len(facts), time.perf_counter() - begun)
    model = load_relevance(encoder, folder)
    if model is None:
        raise SystemExit(f"no cross-encoder for {encoder.name} in {folder}")
    model.neighbours = None  # the cross-encoder's own P, whatever the folder holds already
    by_question: dict[int, list[Pair]] = {}
    for pair in bench_tune_pairs():
        by_question.setdefault(pair.question, []).append(pair)
    features, labels = [], []
    for mine in by_question.values():
        message, their_facts = mine[0].message, [p.fact for p in mine]
        ce = np.clip(model.scores(message, their_facts).astype(np.float64), 1e-6, 1 - 1e-6)
        fact_vectors = encoder.memo(("neighbours.bench_facts", tuple(their_facts)), lambda: encoder.encode(their_facts))
        vote = table.votes(encoder.encode([message])[0], fact_vectors)
        features += list(zip(np.log(ce / (1 - ce)), np.log(vote + VOTE_FLOOR), strict=True))
        labels += [p.answers for p in mine]
    fit = LogisticRegression().fit(np.array(features), np.array(labels))
    combination = Combination(float(fit.coef_[0, 0]), float(fit.coef_[0, 1]), float(fit.intercept_[0]))
    record = {
        "data": {"questions": len(texts), "answered": int((table.answer >= 0).sum()), "facts": len(facts)},
        "fitted_on": f"bench/replies tune split: {len(labels)} (fact, message) pairs of {len(by_question)} messages",
    }
    Neighbours(table.questions, table.answer, table.facts, encoder.name, combination).save(folder, record)
    log.info("neighbours saved to %s: %s", folder, combination)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["cache", "train", "neighbours"])
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "data" / "relevance_cache")
    parser.add_argument("--start", type=int, default=3, help="shared layers below the trained ones")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--positive-weight", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RELEVANCE_DIR)
    parser.add_argument("--extra", type=Path, help="neighbours: also the written questions in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.stage == "cache":
        cache(args.cache_dir, args.start)
    elif args.stage == "neighbours":
        neighbours(args.out.resolve(), args.extra)
    else:
        train(args.cache_dir, args.start, args.epochs, args.out.resolve(), lr=args.lr, seed=args.seed, eval_every=args.eval_every, positive_weight=args.positive_weight)


if __name__ == "__main__":
    main()
