"""An engine that replays recorded model text, for exact tests of the tool loop.

It honours what a real engine must: stop strings (included in the text), token budgets
(counted with the real tokenizer) and end of sequence. Each prompt string selects its script.
"""

from __future__ import annotations

import time

from cort.engine import Generation, SamplingParams


class ReplayEngine:
    def __init__(self, tokenizer, scripts: dict[str, str], delay: float = 0.0):
        self.tokenizer = tokenizer
        self.scripts = scripts
        self.cursor = {k: 0 for k in scripts}
        self.calls: list[tuple[str, SamplingParams]] = []
        self.delay = delay

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        time.sleep(self.delay)
        return [self._one(self.decode(ids), p) for ids, p in zip(prompts, params)]

    def _one(self, context: str, p: SamplingParams) -> Generation:
        key = next(k for k in self.scripts if context.startswith(k))
        self.calls.append((key, p))
        remaining = self.scripts[key][self.cursor[key]:]
        cut, stop_reason = len(remaining), None
        for s in p.stop:
            i = remaining.find(s)
            if i >= 0 and i + len(s) < cut or (i >= 0 and i + len(s) == cut and stop_reason is None):
                cut, stop_reason = i + len(s), s
        piece = remaining[:cut]
        ids = self.encode(piece)
        finish = "stop"
        if len(ids) > p.max_tokens:
            ids = ids[:p.max_tokens]
            piece, finish, stop_reason = self.decode(ids), "length", None
        elif stop_reason is None:
            ids = ids + [self.tokenizer.eos_token_id]
        self.cursor[key] += len(piece)
        return Generation(piece, ids, -0.5 * len(ids), finish, stop_reason, [-0.5] * len(ids))
