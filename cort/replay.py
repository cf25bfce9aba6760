"""An engine that replays recorded model text through the tool loop.

Uses: re-executing the cells of recorded trajectories with the real executor (the outputs
come from the interpreter, never from the recording), exact tests of the loop, and loop
benchmarks with a timing model of a batched engine. It honours what a real engine must:
stop strings (included in the text), token budgets (counted with the real tokenizer) and
end of sequence. Each script is selected by the prompt its context starts with.
"""

from __future__ import annotations

import time

from cort.engine import Generation, SamplingParams


class ReplayEngine:
    """:class:`cort.engine.Engine` that "generates" recorded model text.

    ``scripts`` maps a prompt to the model-written text that follows it (interpreter
    outputs left out). A generate call costs ``seconds_per_call + seconds_per_token * L``
    of wall time, L being the longest generation of the batch (a batched engine's step cost).
    """

    def __init__(self, tokenizer, scripts: dict[str, str], seconds_per_call: float = 0.0,
                 seconds_per_token: float = 0.0):
        self.tokenizer = tokenizer
        self.scripts = scripts
        self.cursor = {k: 0 for k in scripts}
        self.calls: list[tuple[str, SamplingParams]] = []
        self.seconds_per_call = seconds_per_call
        self.seconds_per_token = seconds_per_token

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``."""
        return self.tokenizer.decode(ids)

    def generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        """The next piece of each prompt's script, up to a stop string, the budget or its end."""
        gens = [self._one(self.decode(ids), p) for ids, p in zip(prompts, params)]
        longest = max((len(g.token_ids) for g in gens), default=0)
        time.sleep(self.seconds_per_call + self.seconds_per_token * longest)
        return gens

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
