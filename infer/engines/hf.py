"""Hugging Face transformers engine: its own continuous batching over one left-padded KV cache.

Runs on CPU (float32) or GPU (bfloat16). The decoding loop is the engine's own (the model's
forward with a ``DynamicCache``): requests join the running batch between decoding steps (the
newcomers' prompts are prefilled together, then spliced into the running cache, both left-padded
to one length) and leave it the moment they end (end of sequence, a stop string, their token
budget). Each request samples from its own seeded generator, so its tokens do not depend on which
others share its steps. One loop serves both interfaces of :mod:`cort.engine`: ``generate`` (a
list of prompts, at most ``batch_size`` decoding at once) and ``add_request``/``step`` (the tool
loop's continuous mode, :class:`cort.engine.StreamingEngine`). Per-token log-probabilities come
from the model's raw distribution (before temperature and top-p).

A request that ends at a stop string leaves its KV rows behind (:class:`_Continuations`): the tool
loop's next request for that trajectory is the same tokens plus the interpreter's output, and it
prefills only the tokens after them, as vLLM's prefix cache would. The KV belongs to the model as it
is: an engine whose model's weights change must drop it (:meth:`HFEngine.reset_prefix_cache`; GRPO
makes a new engine for every rollout).
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from transformers.cache_utils import DynamicLayer

from cort.engine import Generation, SamplingParams


def _sample(logits: torch.Tensor, temperature: float, top_p: float,
            generators: list[torch.Generator], candidates: int = 1024) -> torch.Tensor:
    """One token per row: greedy at temperature 0, else temperature then nucleus (top-p) sampling,
    each row drawing from its own generator.

    The nucleus is the smallest set of most likely tokens whose probability reaches ``top_p``
    (``transformers``' rule: a token stays while the mass ranked above it is below ``top_p``).
    It is searched among the ``candidates`` most likely tokens, and over the whole vocabulary
    only for a batch whose nucleus is wider than that.
    """
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = (logits / temperature).softmax(dim=-1)
    if top_p >= 1.0:
        return torch.cat([torch.multinomial(probs[b], 1, generator=g) for b, g in enumerate(generators)])
    k = min(candidates, probs.shape[-1])
    top, index = probs.topk(k, dim=-1)
    if k < probs.shape[-1] and bool((top.sum(dim=-1) < top_p).any()):
        top, index = probs.sort(dim=-1, descending=True)
    above = top.cumsum(dim=-1) - top  # mass ranked above each token
    top = top.masked_fill(above >= top_p, 0.0)
    top[:, 0] = torch.where(top[:, 0] > 0, top[:, 0], 1.0)  # the most likely token always stays
    picks = torch.cat([torch.multinomial(top[b], 1, generator=g) for b, g in enumerate(generators)])
    return index.gather(1, picks[:, None]).squeeze(1)


def _left_pad(t: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    """``t`` with zeros put before its entries along ``dim`` up to ``length``."""
    missing = length - t.shape[dim]
    if missing <= 0:
        return t
    pad = [0, 0] * (t.dim() - 1 - dim % t.dim()) + [missing, 0]
    return F.pad(t, pad)


def _stacked(kept: list[_Entry | None], width: int) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
    """Per layer, the kept keys and values of a group of newcomers, left-padded to ``width`` tokens (zeros
    for a newcomer without any)."""
    layers = []
    for i in range(len(next(e for e in kept if e is not None).kv)):
        sample = next((e.kv[i] for e in kept if e is not None and e.kv[i] is not None), None)
        if sample is None:
            layers.append((None, None))
            continue
        shape = (1, sample[0].shape[1], width, sample[0].shape[3])
        keys = [_left_pad(e.kv[i][0], width, -2) if e is not None else sample[0].new_zeros(shape) for e in kept]
        values = [_left_pad(e.kv[i][1], width, -2) if e is not None else sample[1].new_zeros(shape) for e in kept]
        layers.append((torch.cat(keys), torch.cat(values)))
    return layers


@dataclass
class _Row:
    """One request in the running batch: its settings, random stream and what it generated so far."""

    request_id: str
    params: SamplingParams
    generator: torch.Generator
    prompt_ids: list[int]
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)


LayerKV = tuple[torch.Tensor, torch.Tensor] | None  # one layer's keys and values, or None


@dataclass
class _Entry:
    """A stopped request's KV: its tokens (prompt and every token fed to the model) and, per layer, the keys
    and values of those tokens (``[1, heads, tokens, dim]``; None for a layer that keeps none)."""

    tokens: list[int]
    kv: list[LayerKV]
    nbytes: int


class _Continuations:
    """KV rows of requests that ended at a stop string, kept until a request continues them.

    An entry is taken by a prompt that extends all its tokens, and taken once (the continuation's own
    KV is kept again when it stops); entries nobody continued leave oldest first beyond ``max_bytes``.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.entries: OrderedDict[int, _Entry] = OrderedDict()
        self.nbytes = 0
        self._serial = 0

    def put(self, tokens: list[int], kv: list[LayerKV]) -> None:
        """Keep ``kv`` for ``tokens``, dropping the oldest entries to stay within the budget."""
        nbytes = sum(t.numel() * t.element_size() for pair in kv if pair is not None for t in pair)
        if nbytes > self.max_bytes:
            return
        while self.entries and self.nbytes + nbytes > self.max_bytes:
            self.nbytes -= self.entries.popitem(last=False)[1].nbytes
        self.entries[self._serial] = _Entry(tokens, kv, nbytes)
        self._serial += 1
        self.nbytes += nbytes

    def take(self, prompt: list[int]) -> _Entry | None:
        """The longest entry whose tokens ``prompt`` extends (removed from the cache), else None."""
        best, best_n = None, 0
        for key, entry in self.entries.items():
            n = len(entry.tokens)
            # the last tokens first: other trajectories' entries (the same problem's samples share the prompt)
            # differ there, so the whole comparison is made about once per call instead of once per entry
            if best_n < n < len(prompt) and prompt[max(0, n - 8):n] == entry.tokens[-8:] and prompt[:n] == entry.tokens:
                best, best_n = key, n
        if best is None:
            return None
        entry = self.entries.pop(best)
        self.nbytes -= entry.nbytes
        return entry

    def clear(self) -> None:
        """Drop every entry."""
        self.entries.clear()
        self.nbytes = 0


class _Batch:
    """Requests decoding together as the rows of one left-padded KV cache, joining and leaving between steps."""

    def __init__(self, engine: HFEngine, max_running: int):
        self.engine = engine
        self.max_running = max_running
        self.waiting: deque[tuple[str, list[int], SamplingParams]] = deque()
        self.rows: list[_Row] = []
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [rows, cached tokens]: 1 on real tokens, 0 on left padding
        self.positions: torch.Tensor | None = None  # [rows, 1]: position of each row's last token
        self.last: torch.Tensor | None = None  # [rows]: each row's last sampled token, the next step's input

    @property
    def busy(self) -> bool:
        """Whether any request waits or runs."""
        return bool(self.waiting or self.rows)

    def add(self, request_id: str, prompt_ids: list[int], params: SamplingParams) -> None:
        """Queue a request; it joins at a coming :meth:`step`."""
        if not prompt_ids:
            raise ValueError(f"request {request_id!r}: empty prompt")
        self.waiting.append((request_id, list(prompt_ids), params))

    def step(self) -> list[tuple[str, Generation]]:
        """One decoding step for the running rows, then newcomers join; the requests that ended."""
        done = []
        if self.rows:
            self._decode()
            done += self._retire(0)
        free = self.max_running - len(self.rows)
        if self.waiting and free > 0 and (not self.rows or self.engine.splices):
            before = len(self.rows)
            self._join([self.waiting.popleft() for _ in range(min(free, len(self.waiting)))])
            done += self._retire(before)
        return done

    def abort(self, request_ids: list[str]) -> None:
        """Drop the named requests, waiting or running."""
        gone = set(request_ids)
        self.waiting = deque(w for w in self.waiting if w[0] not in gone)
        if any(r.request_id in gone for r in self.rows):
            self._keep([b for b, r in enumerate(self.rows) if r.request_id not in gone])

    def _decode(self) -> None:
        """Every running row gets its next token."""
        mask = torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
        positions = self.positions + 1
        logits = self.engine._forward(self.last[:, None], mask, positions, self.cache)
        self.mask, self.positions = mask, positions
        self.last = self._sample(logits, self.rows)

    def _join(self, joiners: list[tuple[str, list[int], SamplingParams]]) -> None:
        """Prefill the newcomers together, sample their first tokens and splice them into the running batch.

        A newcomer that continues a stopped request starts from that request's kept KV and prefills only
        the tokens after it: kept tokens and new tokens are each left-padded to one length (a row reads
        ``[pad, kept, pad, new]``, the pads masked), with each token at its own position.
        """
        engine = self.engine
        kept = [engine.continuations.take(p) if engine.continuations is not None and engine.splices else None
                for _, p, _ in joiners]
        past = [len(e.tokens) if e is not None else 0 for e in kept]
        new = [p[n:] for (_, p, _), n in zip(joiners, past)]
        width, longest = max(past), max(len(t) for t in new)
        pad = engine.tokenizer.pad_token_id
        device = engine.device
        ids = torch.tensor([[pad] * (longest - len(t)) + t for t in new], device=device)
        mask = torch.tensor([[0] * (width - n) + [1] * n + [0] * (longest - len(t)) + [1] * len(t)
                             for n, t in zip(past, new)], device=device)
        positions = torch.tensor([[0] * (longest - len(t)) + list(range(n, n + len(t))) for n, t in zip(past, new)],
                                 device=device)
        if width:
            cache = DynamicCache(ddp_cache_data=_stacked(kept, width), config=engine.model.config)
        else:
            cache = DynamicCache(config=engine.model.config)
        engine.prefilled_tokens += sum(len(t) for t in new)
        logits = engine._forward(ids, mask, positions, cache)
        rows = [_Row(request_id, params, engine._generator(params.seed), prompt)
                for request_id, prompt, params in joiners]
        tokens = self._sample(logits, rows)
        width = mask.shape[1]
        if not self.rows:
            self.cache, self.mask, self.positions, self.last = cache, mask, positions[:, -1:], tokens
        else:
            length = max(self.mask.shape[1], width)
            for old, joined in zip(self.cache.layers, cache.layers):
                if old.keys is None and joined.keys is None:
                    continue  # a layer that keeps no states of its own
                old.keys = torch.cat([_left_pad(old.keys, length, -2), _left_pad(joined.keys, length, -2)])
                old.values = torch.cat([_left_pad(old.values, length, -2), _left_pad(joined.values, length, -2)])
            self.mask = torch.cat([_left_pad(self.mask, length, 1), _left_pad(mask, length, 1)])
            self.positions = torch.cat([self.positions, positions[:, -1:]])
            self.last = torch.cat([self.last, tokens])
        self.rows += rows

    def _sample(self, logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
        """Each row's next token (rows sharing sampling settings drawn together), recorded on the row."""
        groups: dict[tuple[float, float], list[int]] = defaultdict(list)
        for b, row in enumerate(rows):
            groups[(row.params.temperature, row.params.top_p)].append(b)
        if len(groups) == 1:
            (temperature, top_p), = groups
            tokens = _sample(logits, temperature, top_p, [r.generator for r in rows])
        else:
            tokens = torch.empty(len(rows), dtype=torch.long, device=logits.device)
            for (temperature, top_p), members in groups.items():
                index = torch.tensor(members, device=logits.device)
                tokens[index] = _sample(logits[index], temperature, top_p, [rows[b].generator for b in members])
        logprobs = torch.log_softmax(logits, dim=-1).gather(1, tokens[:, None]).squeeze(1).tolist()
        for row, tok, lp in zip(rows, tokens.tolist(), logprobs):
            row.token_ids.append(tok)
            row.logprobs.append(lp)
        return tokens

    def _retire(self, start: int) -> list[tuple[str, Generation]]:
        """Rows from ``start`` on that ended with their last token leave the batch, as finished generations."""
        ended = {b for b in range(start, len(self.rows)) if self.engine._ended(self.rows[b])}
        if not ended:
            return []
        done = []
        for b in sorted(ended):
            gen = self.engine._finish_row(self.rows[b])
            if gen.stop_reason is not None:
                self._keep_for_continuation(b)
            done.append((self.rows[b].request_id, gen))
        self._keep([b for b in range(len(self.rows)) if b not in ended])
        return done

    def _keep_for_continuation(self, b: int) -> None:
        """Keep row ``b``'s KV (its prompt and the tokens it fed) for the request that will continue it."""
        store = self.engine.continuations
        if store is None or not self.engine.splices:
            return
        row = self.rows[b]
        tokens = row.prompt_ids + row.token_ids[:-1]  # the last sampled token was never fed
        columns = self.mask[b].nonzero().squeeze(1)  # its tokens, in order, without padding (left or between)
        if len(columns) != len(tokens):
            return
        store.put(tokens, [None if layer.keys is None else
                           (layer.keys[b:b + 1].index_select(2, columns),
                            layer.values[b:b + 1].index_select(2, columns))
                           for layer in self.cache.layers])

    def _keep(self, keep: list[int]) -> None:
        """Keep only these rows, and drop the left padding that every remaining row has."""
        if not keep:
            self.rows, self.cache, self.mask, self.positions, self.last = [], None, None, None, None
            return
        index = torch.tensor(keep, device=self.mask.device)
        self.cache.batch_select_indices(index)
        self.mask, self.positions, self.last = self.mask[index], self.positions[index], self.last[index]
        self.rows = [self.rows[b] for b in keep]
        lead = int(self.mask.argmax(dim=1).min())  # padding before every row's first real token
        if lead and self.engine.splices:
            self.mask = self.mask[:, lead:]
            for layer in self.cache.layers:
                if layer.keys is not None:
                    layer.keys, layer.values = layer.keys[..., lead:, :], layer.values[..., lead:, :]


class HFEngine:
    """:class:`cort.engine.Engine` and :class:`cort.engine.StreamingEngine` over a ``transformers`` causal LM."""

    def __init__(self, model_name_or_path: str | None = None, device: str | None = None,
                 dtype: torch.dtype | None = None, batch_size: int = 16, model=None, tokenizer=None,
                 continuation_cache_bytes: int = 2 << 30):
        if device is None and model is not None:
            device = str(next(model.parameters()).device)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_name_or_path)
        self.model = model or AutoModelForCausalLM.from_pretrained(model_name_or_path, dtype=dtype)
        if model is None:
            self.model.to(self.device)
        self.model.eval()
        self.batch_size = batch_size
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {e for e in eos + [self.tokenizer.eos_token_id] if e is not None}
        # Requests join a running batch only where every cache layer is a plain growing one (full attention);
        # elsewhere (sliding windows, linear attention) they wait until the batch is empty.
        self.splices = all(type(layer) is DynamicLayer for layer in DynamicCache(config=self.model.config).layers)
        # KV of requests that stopped at a stop string, for the requests that continue them (0 bytes: none kept)
        self.continuations = _Continuations(continuation_cache_bytes) if continuation_cache_bytes > 0 else None
        self.prefilled_tokens = 0  # prompt tokens computed so far (kept KV not counted)
        self._stream = _Batch(self, batch_size)

    def reset_prefix_cache(self) -> None:
        """Drop the kept KV of stopped requests (after the model's weights changed, or to start cold)."""
        if self.continuations is not None:
            self.continuations.clear()

    @property
    def max_running(self) -> int:
        """How many requests decode at once (``batch_size``)."""
        return self.batch_size

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (special-token strings in it are parsed; none are added)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids``."""
        return self.tokenizer.decode(token_ids, skip_special_tokens=False)

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        """Generate for every prompt, at most ``batch_size`` at once; a prompt joins as soon as a row ends."""
        batch = _Batch(self, self.batch_size)
        for i in sorted(range(len(prompts)), key=lambda i: len(prompts[i])):  # similar lengths pad less
            batch.add(str(i), prompts[i], params[i])
        results: list[Generation | None] = [None] * len(prompts)
        while batch.busy:
            for request_id, gen in batch.step():
                results[int(request_id)] = gen
        return results  # type: ignore[return-value]

    def add_request(self, request_id: str, prompt_ids: list[int], params: SamplingParams) -> None:
        """Queue one request; it joins the running batch at a coming :meth:`step`."""
        self._stream.add(request_id, prompt_ids, params)

    @torch.no_grad()
    def step(self) -> list[tuple[str, Generation]]:
        """One decoding step of the running requests (newcomers join after it); the requests that ended."""
        return self._stream.step()

    def has_unfinished(self) -> bool:
        """Whether any request is queued or running."""
        return self._stream.busy

    def abort(self, request_ids: list[str]) -> None:
        """Drop queued or running requests."""
        self._stream.abort(request_ids)

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                 cache: DynamicCache) -> torch.Tensor:
        """Logits of each row's last position (float32), the cache extended by ``ids``."""
        return self.model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                          use_cache=True, logits_to_keep=1).logits[:, -1, :].float()

    def _ended(self, row: _Row) -> bool:
        """Whether the row's last token ended it: end of sequence, its token budget, or a stop string."""
        if row.token_ids[-1] in self.eos_ids or len(row.token_ids) >= row.params.max_tokens:
            return True
        if not row.params.stop:
            return False
        tail = max(len(s) for s in row.params.stop) + 2  # tokens that can hold a stop string
        text = self.decode(row.token_ids[-tail:])
        return any(s in text for s in row.params.stop)

    def _generator(self, seed: int | None) -> torch.Generator:
        """A row's own random stream: its call's seed, else a draw from torch's global generator."""
        if seed is None:
            seed = int(torch.randint(0, 2 ** 62, (1,)).item())
        return torch.Generator(device=self.device).manual_seed(seed)

    def _finish_row(self, row: _Row) -> Generation:
        """Cut one row at its end of sequence, first stop string or token budget."""
        ids, p = row.token_ids, row.params
        finish, stop_reason, end = "length", None, len(ids)
        for j, tok in enumerate(ids):
            if tok in self.eos_ids:
                finish, end = "stop", j + 1
                break
        cut = self._first_stop(ids[:end], p.stop)
        if cut is not None:
            end, finish, stop_reason = cut[0], "stop", cut[1]
        if end > p.max_tokens:
            end, finish, stop_reason = p.max_tokens, "length", None
        ids, logprobs = ids[:end], row.logprobs[:end]
        text_ids = [t for t in ids if t not in self.eos_ids]
        return Generation(self.decode(text_ids), ids, float(sum(logprobs)), finish, stop_reason, logprobs)

    def _first_stop(self, ids: list[int], stops: list[str]) -> tuple[int, str] | None:
        """(tokens up to and including the first stop string, that string), or None."""
        if not stops:
            return None
        text = self.decode(ids)
        if not any(s in text for s in stops):
            return None
        lo, hi = 1, len(ids)
        while lo < hi:  # smallest prefix whose text contains a stop string
            mid = (lo + hi) // 2
            if any(s in self.decode(ids[:mid]) for s in stops):
                hi = mid
            else:
                lo = mid + 1
        prefix = self.decode(ids[:lo])
        first = min((prefix.find(s), s) for s in stops if s in prefix)
        return lo, first[1]
