"""The local model run by llama.cpp straight from its GGUF file: the fastest local backend on a small CPU."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core import machine
from core.errors import ModelError
from brain.generator import PREFIX_CACHE_SIZE, ChatMessage, GenerationOptions
from brain.model_paths import resolve_model_dir

log = logging.getLogger(__name__)

MAX_BATCH = 8  # rows decoded together; more rows are drafted in further rounds
CONTEXT_TOKENS = 4096  # KV cells shared by the cached prefixes and the rows being drafted
ROW_PROMPT_TOKENS = 128  # what a row's own message usually takes beyond its shared system prompt
# Bump when the conversion changes, so old cached files are not reused.
CONVERSION_VERSION = 1

Weights = Literal["auto", "bf16", "q8_0", "q4_0", "file"]
# "auto" converts models up to this size (the packaged 135M model's file is 92 MB): a 7B model's
# 4-bit file would grow to 14 GB in bf16 and decode slower.
AUTO_CONVERT_MAX_BYTES = 1 << 30


class LlamaCppGenerator:
    """A GGUF model run by llama.cpp (llama-cpp-python's C API), several prompts in one batch.

    The KV cache is one pool of cells tagged by sequence ids: ids 0..PREFIX_CACHE_SIZE-1 hold the
    computed system prompts (one per brand and task), the ids above them the rows being drafted.
    A row starts by sharing its system prompt's cells (a tag, not a copy), so every reply
    computes only its own message."""

    def __init__(self, path: Path, *, threads: int = 0, reuse_prefix: bool = True, repack: bool = False) -> None:
        """threads: 0 picks, before every call, the cores other work leaves free (machine.threads).
        repack: lay 4-bit weights out for the CPU's matrix kernels (llama.cpp's extra buffer types)."""
        lc = _llama_cpp()
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        started = time.perf_counter()
        self._lib = lc
        self.name = f"llama.cpp:{path.name}"
        if not path.is_file():
            raise ModelError(f"GGUF file not found: {path}")
        lc.llama_backend_init()
        model_params = lc.llama_model_default_params()
        # Weight repacking into extra buffer types only when asked (q4_0, chosen by timing it in a
        # child process): its AMX path segfaults on CPUs that report AMX inside a VM that does not
        # grant it (seen on this project's machines), and it gave 8-bit weights nothing on AVX512.
        model_params.use_extra_bufts = repack
        self._model = lc.llama_model_load_from_file(str(path).encode(), model_params)
        if not self._model:
            raise ModelError(f"llama.cpp cannot load {path}")
        params = lc.llama_context_default_params()
        params.n_ctx = CONTEXT_TOKENS
        params.n_batch = params.n_ubatch = 512
        params.n_seq_max = PREFIX_CACHE_SIZE + MAX_BATCH
        params.kv_unified = True  # one pool, so rows can share their prefix's cells
        self._threads_configured = threads
        self._threads = params.n_threads = params.n_threads_batch = machine.threads(threads)
        params.no_perf = True
        # Rows of a batch share one pool of cells, so each row's attention is masked off the others';
        # flash attention skips masked cells where the plain path computes them all: batches of 8
        # decoded ~25% faster with it, single drafts ~10% (measured on 2 cores, 4- and 8-bit weights).
        params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_ENABLED
        self._ctx = lc.llama_init_from_model(self._model, params)
        if not self._ctx:
            lc.llama_model_free(self._model)
            raise ModelError(f"llama.cpp cannot make a context for {path}")
        self._batch = lc.llama_batch_init(params.n_batch, 0, 1)
        self._finalizer = weakref.finalize(self, _free, lc, self._model, self._ctx, self._batch)
        self._mem = lc.llama_get_memory(self._ctx)
        self._vocab = lc.llama_model_get_vocab(self._model)
        self._n_vocab = lc.llama_vocab_n_tokens(self._vocab)
        self._n_batch = params.n_batch
        self.eos = int(lc.llama_vocab_eos(self._vocab))
        template = lc.llama_model_chat_template(self._model, None)
        if not template:
            raise ModelError(f"{path} carries no chat template")
        eos, bos = self._piece(self.eos, special=True), self._piece(int(lc.llama_vocab_bos(self._vocab)), special=True)
        # One formatter with the assistant's opening for prompts, one without for system prefixes.
        self._formats = {
            opening: Jinja2ChatFormatter(template.decode(), eos_token=eos, bos_token=bos, add_generation_prompt=opening)
            for opening in (True, False)
        }
        self.reuse_prefix = reuse_prefix
        self._prefixes: OrderedDict[str, tuple[int, list[int]]] = OrderedDict()  # text -> (seq id, ids)
        self._lock = threading.Lock()
        log.info("generator loaded by llama.cpp from %s in %.2fs", path.name, time.perf_counter() - started)

    def close(self) -> None:
        self._finalizer()

    def _pick_threads(self) -> None:
        """As many threads as cores are free now, unless configured: a thread that waits for a
        busy core spins at every step of the forward pass (draft-post took 44 s instead of 2.8 s)."""
        n = machine.threads(self._threads_configured)
        if n != self._threads:
            self._lib.llama_set_n_threads(self._ctx, n, n)
            self._threads = n

    # Text and tokens.

    def tokenize(self, text: str) -> list[int]:
        data = text.encode()
        buf = (self._lib.llama_token * (len(data) + 8))()
        n = self._lib.llama_tokenize(self._vocab, data, len(data), buf, len(buf), False, True)
        if n < 0:
            raise ModelError(f"cannot tokenize a prompt of {len(data)} bytes")
        return list(buf[:n])

    def _piece(self, token: int, special: bool = False) -> str:
        return self._bytes([token], special).decode(errors="replace")

    def _bytes(self, tokens: list[int], special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(256)
        out = b""
        for token in tokens:
            n = self._lib.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, special)
            out += buf.raw[: max(n, 0)]
        return out

    def detokenize(self, tokens: list[int]) -> str:
        # Joined as bytes first: one character may span several tokens.
        return self._bytes(tokens).decode(errors="replace")

    def encode(self, messages: list[ChatMessage], add_generation_prompt: bool = True) -> list[int]:
        rendered = self._formats[add_generation_prompt](messages=[{"role": m.role, "content": m.content} for m in messages])
        return self.tokenize(rendered.prompt)

    # The model.

    def _decode(self, rows: list[tuple[int, int, int]], logits_from: int = 0, wants: list[bool] | None = None) -> None:
        """One forward pass over (token, position, sequence id) rows; rows from logits_from on get
        logits, or those that wants marks."""
        batch = self._batch
        batch.n_tokens = len(rows)
        for i, (token, pos, seq) in enumerate(rows):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = wants[i] if wants is not None else i >= logits_from
        code = self._lib.llama_decode(self._ctx, batch)
        if code != 0:
            raise ModelError(f"llama.cpp could not decode (code {code}): prompt and draft too long?")

    def _feed(self, ids: list[int], start: int, seq: int, logits: bool) -> None:
        """ids[start:] into one sequence, in chunks; with logits, the last position's are kept."""
        for chunk in range(start, len(ids), self._n_batch):
            part = ids[chunk : chunk + self._n_batch]
            last = chunk + len(part) == len(ids)
            self._decode([(t, chunk + i, seq) for i, t in enumerate(part)], len(part) - 1 if logits and last else len(part))

    def _feed_rows(self, rows: list[tuple[list[int], int, int]]) -> list[np.ndarray]:
        """The prompts of several sequences, (ids, first position to compute, sequence id), fed
        together in as few passes as n_batch allows; the logits of each one's last position.

        One pass for all rows, not one per row: a pass has a fixed cost, and small matrices
        multiply less efficiently than one larger one."""
        pending: list[tuple[int, int, int]] = []
        wants: list[bool] = []
        logits: list[np.ndarray] = []

        def flush() -> None:
            self._decode(pending, wants=wants)
            logits.extend(self._logits(i).copy() for i, want in enumerate(wants) if want)
            pending.clear()
            wants.clear()

        for ids, start, seq in rows:
            for pos in range(start, len(ids)):
                if len(pending) == self._n_batch:
                    flush()
                pending.append((ids[pos], pos, seq))
                wants.append(pos == len(ids) - 1)
        if pending:
            flush()
        return logits

    def _logits(self, i: int) -> np.ndarray:
        """The logits of the i-th row of the last batch (a view into llama.cpp's buffer)."""
        return np.ctypeslib.as_array(self._lib.llama_get_logits_ith(self._ctx, i), shape=(self._n_vocab,))

    def _prefix(self, messages: list[ChatMessage], ids: list[int]) -> tuple[int, int] | None:
        """(sequence id, length) of the computed system prompt this prompt starts with, if any."""
        if not self.reuse_prefix or not messages or messages[0].role != "system":
            return None
        key = messages[0].content
        entry = self._prefixes.get(key)
        if entry is None:
            prefix_ids = self.encode(messages[:1], add_generation_prompt=False)
            free = set(range(PREFIX_CACHE_SIZE)) - {seq for seq, _ in self._prefixes.values()}
            if not free:
                _, (seq, _) = self._prefixes.popitem(last=False)
                self._lib.llama_memory_seq_rm(self._mem, seq, -1, -1)
                free = {seq}
            seq = min(free)
            self._feed(prefix_ids, 0, seq, logits=False)
            entry = self._prefixes[key] = (seq, prefix_ids)
        self._prefixes.move_to_end(key)
        seq, prefix_ids = entry
        if len(ids) <= len(prefix_ids) or ids[: len(prefix_ids)] != prefix_ids:
            return None
        return seq, len(prefix_ids)

    def _generate_rows(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        """Drafts up to MAX_BATCH prompts together, one token per row per forward pass."""
        rng = np.random.default_rng(options.seed)
        seqs = [PREFIX_CACHE_SIZE + r for r in range(len(prompts))]
        history: list[list[int]] = []
        out: list[list[int]] = [[] for _ in prompts]
        nxt: list[int] = []
        try:
            starts: list[int] = []
            for seq, messages in zip(seqs, prompts):
                ids = self.encode(messages)
                shared = self._prefix(messages, ids)
                start = 0
                if shared is not None:
                    self._lib.llama_memory_seq_cp(self._mem, shared[0], seq, -1, -1)
                    start = shared[1]
                history.append(ids)
                starts.append(start)
            for ids, logits in zip(history, self._feed_rows(list(zip(history, starts, seqs)))):
                nxt.append(pick_token(logits, ids, 0, options, rng, self.eos))
            active = list(range(len(prompts)))
            while active:
                still = []
                for r in active:
                    token = nxt[r]
                    if token == self.eos or self._lib.llama_vocab_is_eog(self._vocab, token):
                        continue
                    out[r].append(token)
                    history[r].append(token)
                    if len(out[r]) < options.max_new_tokens:
                        still.append(r)
                active = still
                if not active:
                    break
                self._decode([(history[r][-1], len(history[r]) - 1, seqs[r]) for r in active])
                for i, r in enumerate(active):
                    nxt[r] = pick_token(self._logits(i), history[r], len(out[r]), options, rng, self.eos)
        finally:
            for seq in seqs:
                self._lib.llama_memory_seq_rm(self._mem, seq, -1, -1)
        return [self.detokenize(tokens).strip() for tokens in out]

    def greedy_next_tokens(self, ids: list[int]) -> list[int]:
        """The most likely next token after every position of ids: for checks against another engine."""
        seq = PREFIX_CACHE_SIZE
        picks: list[int] = []
        with self._lock:
            self._pick_threads()
            try:
                for chunk in range(0, len(ids), self._n_batch):
                    part = ids[chunk : chunk + self._n_batch]
                    self._decode([(t, chunk + i, seq) for i, t in enumerate(part)])
                    picks += [int(self._logits(i).argmax()) for i in range(len(part))]
            finally:
                self._lib.llama_memory_seq_rm(self._mem, seq, -1, -1)
        return picks

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        return self.generate_many([messages], options)[0]

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        """Several prompts in one batch: on a CPU, one pass over the weights serves them all."""
        # Rows share the pool of cells with the cached prefixes: long drafts mean fewer rows at once.
        per_round = max(1, min(MAX_BATCH, CONTEXT_TOKENS // 2 // (options.max_new_tokens + ROW_PROMPT_TOKENS)))
        results: list[str] = []
        with self._lock:
            self._pick_threads()
            for first in range(0, len(prompts), per_round):
                results += self._generate_rows(prompts[first : first + per_round], options)
        return results


def pick_token(
    logits: np.ndarray, history: list[int], n_new: int, options: GenerationOptions, rng: np.random.Generator, eos: int
) -> int:
    """The next token as transformers' generate picks it: the repetition penalty over the whole
    sequence, no end before min_new_tokens, then greedy, or temperature and top-p sampling."""
    scores = np.array(logits, dtype=np.float32)  # a copy: logits is llama.cpp's own buffer
    penalty = options.repetition_penalty
    if penalty != 1.0:
        seen = np.unique(np.asarray(history))
        picked = scores[seen]
        scores[seen] = np.where(picked < 0, picked * penalty, picked / penalty)
    if n_new < options.min_new_tokens:
        scores[eos] = -np.inf
    if options.temperature <= 0:
        return int(scores.argmax())
    scores /= options.temperature
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    # The smallest set of most likely tokens whose probabilities add up to top_p. It nearly always
    # lies among the few most likely, so sort those first: sorting the whole vocabulary cost ~3 ms a
    # token, as much as a batch row's share of the forward pass.
    order = _most_likely(probs, NUCLEUS_CANDIDATES)
    cumulative = np.cumsum(probs[order])
    if cumulative[-1] < options.top_p:
        order = np.argsort(-probs)
        cumulative = np.cumsum(probs[order])
    keep = order[: int(np.searchsorted(cumulative, options.top_p)) + 1]
    return int(rng.choice(keep, p=probs[keep] / probs[keep].sum()))


NUCLEUS_CANDIDATES = 64  # tokens sorted first when sampling; the whole vocabulary only if they fall short


def _most_likely(probs: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest probabilities, largest first."""
    if k >= len(probs):
        return np.argsort(-probs)
    top = np.argpartition(-probs, k)[:k]
    return top[np.argsort(-probs[top])]


def _free(lib: object, model: object, ctx: object, batch: object) -> None:
    lib.llama_batch_free(batch)  # type: ignore[attr-defined]
    lib.llama_free(ctx)  # type: ignore[attr-defined]
    lib.llama_model_free(model)  # type: ignore[attr-defined]


def _llama_cpp() -> Any:
    """The llama_cpp module, quiet: llama.cpp reports every load and conversion on stderr unless its logger says otherwise."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(f"llama-cpp-python is not installed (run `make install`): {exc}") from exc
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    return llama_cpp


def resolve_weights(weights: Weights, source: Path, cache_dir: Path, threads: int = 0) -> Weights:
    """ "auto" made concrete for this CPU and model: the weights timed fastest here (measured once
    per CPU, brain/llama_choice.py); a large model's file as it is, since reading its weights, not
    arithmetic, bounds its speed, and wider weights would only be slower and bigger."""
    if weights != "auto":
        return weights
    if not source.is_file() or source.stat().st_size > AUTO_CONVERT_MAX_BYTES:
        return "file"
    from brain.llama_choice import chosen_weights

    return chosen_weights(source, cache_dir, threads).weights  # type: ignore[return-value]


def converted_gguf(source: Path, weights: Weights, cache_dir: Path, threads: int = 0) -> Path:
    """The GGUF file llama.cpp runs with these (concrete) weights: the source as it is, or
    converted once into cache_dir; a cached conversion is never redone.

    The packaged model is 4-bit (Q4_1), whose kernels gain little from a batch on some CPUs:
    bf16 or 8-bit weights of the same values decode 8 drafts together ~1.3x faster there, and stay
    as close to fp32 or closer (bench/generate.py). The conversion takes about a second. If it
    fails, the source file is used and the log says why."""
    if not source.is_file():
        return source
    stat = source.stat()
    if weights in ("file", "auto"):
        return source
    lc = _llama_cpp()
    digest = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CONVERSION_VERSION}".encode())
    target = cache_dir / f"{source.stem}.{weights}-{digest.hexdigest()[:12]}.gguf"
    if target.is_file():
        return target
    ftype = {"bf16": lc.LLAMA_FTYPE_MOSTLY_BF16, "q8_0": lc.LLAMA_FTYPE_MOSTLY_Q8_0, "q4_0": lc.LLAMA_FTYPE_MOSTLY_Q4_0}[weights]
    params = lc.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True  # the source is already quantised: every value it holds is kept
    params.nthread = machine.threads(threads)
    started = time.perf_counter()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        partial = Path(tmp) / target.name
        code = lc.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
        if code != 0 or not partial.is_file():
            log.warning("llama.cpp could not convert %s to %s (code %d): running the file as it is", source.name, weights, code)
            return source
        # Renamed last, so an interrupted conversion is never mistaken for a finished one.
        os.replace(partial, target)
    log.info("converted %s to %s weights in %.1fs: %s", source.name, weights, time.perf_counter() - started, target)
    return target


def load_llama_generator(spec: str, gguf_file: str, threads: int, weights: Weights, cache_dir: Path) -> LlamaCppGenerator:
    """The GGUF file named in config, inside the model folder, with the weights asked for ("auto":
    timed on this CPU once), converted into cache_dir once. The caller owns it: close() it."""
    if not gguf_file:
        raise ModelError("no GGUF file configured ([models] gguf_file)")
    source = resolve_model_dir(spec) / gguf_file
    weights = resolve_weights(weights, source, cache_dir, threads)
    path = converted_gguf(source, weights, cache_dir, threads)
    return LlamaCppGenerator(path, threads=threads, repack=weights == "q4_0")
