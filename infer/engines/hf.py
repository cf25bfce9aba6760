"""Hugging Face transformers engine: batched decoding with left padding and stop strings.

Runs on CPU (float32) or GPU (bfloat16). The decoding loop is the engine's own (the model's
forward with a ``DynamicCache``): rows leave the batch when they end, and each row samples
from its own seeded generator. Per-token log-probabilities come from the model's raw
distribution (before temperature and top-p), one ``batch x vocab`` row set per step.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

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


class HFEngine:
    """:class:`cort.engine.Engine` over a ``transformers`` causal LM, decoded by its own batched loop."""

    def __init__(self, model_name_or_path: str | None = None, device: str | None = None,
                 dtype: torch.dtype | None = None, batch_size: int = 16, model=None, tokenizer=None):
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

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (special-token strings in it are parsed; none are added)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids``."""
        return self.tokenizer.decode(token_ids, skip_special_tokens=False)

    def generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        """Generate for every prompt; prompts sharing sampling settings are batched."""
        results: list[Generation | None] = [None] * len(prompts)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, p in enumerate(params):
            groups[(p.temperature, p.top_p, tuple(p.stop))].append(i)
        for indices in groups.values():
            indices.sort(key=lambda i: len(prompts[i]))
            for k in range(0, len(indices), self.batch_size):
                chunk = indices[k:k + self.batch_size]
                gens = self._generate_batch([prompts[i] for i in chunk], [params[i] for i in chunk])
                for i, gen in zip(chunk, gens):
                    results[i] = gen
        return results  # type: ignore[return-value]

    @torch.no_grad()
    def _generate_batch(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        """Decode one batch step by step; a row leaves the batch the moment it ends.

        Every row samples from its own ``torch.Generator`` seeded with its call's seed, so a
        row's tokens do not depend on which other rows share the batch; rows that hit the end
        of sequence, a stop string or their own token budget are dropped from the KV cache, so
        the batch costs as many steps as its rows need, not its longest row for all of them.
        """
        first = params[0]
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        generators = [self._generator(p.seed) for p in params]
        tail = max((len(s) for s in first.stop), default=0) + 2  # tokens that can hold a stop string
        out_ids: list[list[int]] = [[] for _ in prompts]
        out_logprobs: list[list[float]] = [[] for _ in prompts]
        alive = list(range(len(prompts)))  # original row of each batch row
        cache = DynamicCache(config=self.model.config)
        step_ids, step_positions = ids, positions
        while True:
            logits = self.model(input_ids=step_ids, attention_mask=mask, position_ids=step_positions,
                                past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1, :].float()
            tokens = _sample(logits, first.temperature, first.top_p, [generators[r] for r in alive])
            logprobs = torch.log_softmax(logits, dim=-1).gather(1, tokens[:, None]).squeeze(1).tolist()
            keep = []
            for b, (r, tok) in enumerate(zip(alive, tokens.tolist())):
                out_ids[r].append(tok)
                out_logprobs[r].append(logprobs[b])
                ended = tok in self.eos_ids or len(out_ids[r]) >= params[r].max_tokens
                if not ended and first.stop:
                    text = self.decode(out_ids[r][-tail:])
                    ended = any(s in text for s in first.stop)
                if not ended:
                    keep.append(b)
            if not keep:
                break
            last = step_positions[:, -1:]
            if len(keep) < len(alive):
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                mask, tokens, last = mask[index], tokens[index], last[index]
                alive = [alive[b] for b in keep]
            mask = torch.cat([mask, mask.new_ones(len(alive), 1)], dim=1)
            step_ids, step_positions = tokens[:, None], last + 1
        return [self._finish_row(out_ids[r], out_logprobs[r], params[r]) for r in range(len(prompts))]

    def _generator(self, seed: int | None) -> torch.Generator:
        """A row's own random stream: its call's seed, else a draw from torch's global generator."""
        if seed is None:
            seed = int(torch.randint(0, 2 ** 62, (1,)).item())
        return torch.Generator(device=self.device).manual_seed(seed)

    def _finish_row(self, ids: list[int], logprobs: list[float], p: SamplingParams) -> Generation:
        """Cut one row at its end of sequence, first stop string or token budget."""
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
        ids, logprobs = ids[:end], logprobs[:end]
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
