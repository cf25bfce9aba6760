"""An engine that replays recorded model text through the tool loop, with a scheduler's cost model.

Uses: re-executing the cells of recorded trajectories with the real executor (the outputs
come from the interpreter, never from the recording), exact tests of the loop, and loop
benchmarks that simulate an engine's scheduler. It honours what a real engine must: stop
strings (included in the text), token budgets (counted with the real tokenizer) and end of
sequence. Each script is selected by the prompt its context starts with.

Both interfaces of :mod:`cort.engine` are served with one cost model of a continuous-batching
engine (vLLM's): a decoding step costs ``seconds_per_token + seconds_per_sequence * running``,
every token of a context not seen before (no prefix-cache hit) costs ``seconds_per_prefill_token``
once, and each ``generate`` call costs ``seconds_per_call`` more. ``generate`` runs its batch
until the longest sequence ends (sequences leave as they end); ``add_request``/``step`` lets
requests join and leave between steps, at most ``max_running`` at once.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from cort.engine import Generation, SamplingParams


@dataclass
class _Running:
    """A streamed request: its generation and the decoding steps it still needs."""

    request_id: str
    generation: Generation
    remaining: int


class ReplayEngine:
    """:class:`cort.engine.Engine` and :class:`cort.engine.StreamingEngine` that "generate" recorded text.

    ``scripts`` maps a prompt to the model-written text that follows it (interpreter outputs
    left out). Wall time follows the cost model of the module docstring (real sleeps, so the
    loop, its threads and the executor run as they would beside a real engine).
    """

    def __init__(self, tokenizer, scripts: dict[str, str], seconds_per_call: float = 0.0,
                 seconds_per_token: float = 0.0, seconds_per_sequence: float = 0.0,
                 seconds_per_prefill_token: float = 0.0, max_running: int = 256):
        self.tokenizer = tokenizer
        self.scripts = scripts
        self.cursor = {k: 0 for k in scripts}
        self.seen = {k: 0 for k in scripts}  # context tokens of each script already in the prefix cache
        self.calls: list[tuple[str, SamplingParams]] = []
        self.seconds_per_call = seconds_per_call
        self.seconds_per_token = seconds_per_token
        self.seconds_per_sequence = seconds_per_sequence
        self.seconds_per_prefill_token = seconds_per_prefill_token
        self.max_running = max_running
        self.steps = 0
        self._waiting: deque[tuple[str, list[int], SamplingParams]] = deque()
        self._running: list[_Running] = []
        self._debt = 0.0
        self._key_ids: dict[str, tuple[int, ...]] | None = None

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``."""
        return self.tokenizer.decode(ids)

    def generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        """The next piece of each prompt's script, up to a stop string, the budget or its end."""
        gens = [self._one(ids, p) for ids, p in zip(prompts, params)]
        self._spend(self.seconds_per_call)
        waiting = deque(max(1, len(g.token_ids)) for g in gens)
        running: list[int] = []
        while waiting or running:  # the same scheduler as step(): sequences join as others leave
            while waiting and len(running) < self.max_running:
                running.append(waiting.popleft())
            self._spend(self.seconds_per_token + self.seconds_per_sequence * len(running))
            running = [n - 1 for n in running if n > 1]
        self._spend(0.0, flush=True)
        return gens

    def add_request(self, request_id: str, prompt_ids: list[int], params: SamplingParams) -> None:
        """Queue a request; it is admitted (prefilled) at a coming :meth:`step`."""
        self._waiting.append((request_id, list(prompt_ids), params))

    def step(self) -> list[tuple[str, Generation]]:
        """Admit waiting requests up to ``max_running``, run one decoding step; the requests that ended."""
        while self._waiting and len(self._running) < self.max_running:
            request_id, ids, params = self._waiting.popleft()
            gen = self._one(ids, params)
            self._running.append(_Running(request_id, gen, max(1, len(gen.token_ids))))
        if not self._running:
            return []
        self.steps += 1
        self._spend(self.seconds_per_token + self.seconds_per_sequence * len(self._running))
        done, still = [], []
        for r in self._running:
            r.remaining -= 1
            (done if r.remaining == 0 else still).append(r)
        self._running = still
        return [(r.request_id, r.generation) for r in done]

    def has_unfinished(self) -> bool:
        """Whether any request is waiting or running."""
        return bool(self._waiting or self._running)

    def abort(self, request_ids: list[str]) -> None:
        """Drop the named requests."""
        gone = set(request_ids)
        self._waiting = deque(w for w in self._waiting if w[0] not in gone)
        self._running = [r for r in self._running if r.request_id not in gone]

    def _spend(self, seconds: float, flush: bool = False) -> None:
        """Sleep the modelled cost; short costs accumulate until a sleep is worth it (sleep overshoot paid back)."""
        self._debt += seconds
        if self._debt >= 0.002 or (flush and self._debt > 0):
            start = time.perf_counter()
            time.sleep(self._debt)
            self._debt -= time.perf_counter() - start

    def _script_of(self, prompt_ids: list[int]) -> str:
        """The script whose prompt the context starts with (by token ids, else by text)."""
        if self._key_ids is None:
            self._key_ids = {k: tuple(self.encode(k)) for k in self.scripts}
        for key, ids in self._key_ids.items():
            if tuple(prompt_ids[:len(ids)]) == ids:
                return key
        context = self.decode(prompt_ids)
        return next(k for k in self.scripts if context.startswith(k))

    def _one(self, prompt_ids: list[int], p: SamplingParams) -> Generation:
        """The next piece of a script; the time spent replaying it is taken out of the modelled cost."""
        start = time.perf_counter()
        gen = self._replay(prompt_ids, p)
        self._debt -= time.perf_counter() - start
        return gen

    def _replay(self, prompt_ids: list[int], p: SamplingParams) -> Generation:
        key = self._script_of(prompt_ids)
        self.calls.append((key, p))
        self._spend(self.seconds_per_prefill_token * max(0, len(prompt_ids) - self.seen[key]))
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
        self.seen[key] = len(prompt_ids) + len(ids)
        return Generation(piece, ids, -0.5 * len(ids), finish, stop_reason, [-0.5] * len(ids))
