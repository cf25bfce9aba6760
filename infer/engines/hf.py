"""Hugging Face transformers engine: batched ``generate`` with left padding and stop strings.

Runs on CPU (float32) or GPU (bfloat16). Per-token log-probabilities come from the model's
raw distribution (before temperature and top-p), recorded step by step by a logits
processor, so memory stays at one ``batch x vocab`` row set whatever the length.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList

from cort.engine import Generation, SamplingParams


class _LogprobRecorder(LogitsProcessor):
    """Records log p(token) of each sampled token under the unwarped distribution."""

    def __init__(self) -> None:
        self.previous: torch.Tensor | None = None
        self.steps: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.previous is not None:
            self.steps.append(self.previous.gather(1, input_ids[:, -1:]).squeeze(1))
        self.previous = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def finish(self, sequences: torch.LongTensor) -> torch.Tensor:
        """(batch, generated) log-probs, given the final sequences."""
        if self.previous is not None:
            self.steps.append(self.previous.gather(1, sequences[:, -1:]).squeeze(1))
        return torch.stack(self.steps, dim=1) if self.steps else torch.zeros(sequences.shape[0], 0)


class HFEngine:
    """:class:`cort.engine.Engine` over ``transformers`` ``generate``."""

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
        first = params[0]
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        if first.seed is not None:
            torch.manual_seed(first.seed)
        recorder = _LogprobRecorder()
        sample = first.temperature > 0
        out = self.model.generate(
            input_ids=input_ids, attention_mask=attention,
            max_new_tokens=max(p.max_tokens for p in params),
            do_sample=sample, temperature=first.temperature if sample else None,
            top_p=first.top_p if sample else None, top_k=None if sample else None,
            stop_strings=list(first.stop) or None, tokenizer=self.tokenizer,
            logits_processor=LogitsProcessorList([recorder]), pad_token_id=pad,
        )
        logprobs = recorder.finish(out).cpu()
        generated = out[:, width:].cpu()
        return [self._finish_row(generated[r].tolist(), logprobs[r].tolist(), params[r])
                for r in range(len(prompts))]

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
