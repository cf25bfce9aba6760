"""The small interface every generation engine implements (vLLM, transformers, ...).

The tool loop (:mod:`cort.rollout`) only sees this interface. Engines live in
``infer/engines``; trainers wrap their policy model in one. An engine that also implements
:class:`StreamingEngine` (vLLM's request-level API, the transformers engine's own continuous
batching, the replay and simulator engines) lets the
loop submit each trajectory as its own request and hand a continuation back the moment its
cell returns, while the other requests keep generating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class SamplingParams:
    """Sampling settings of one generate call for one sequence."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 32768
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


@dataclass
class Generation:
    """What an engine returns for one sequence.

    ``text`` includes the matched stop string (engines that cut it, like vLLM, add it back,
    as the original CLI does). ``finish_reason`` is ``"stop"`` (stop string or end of
    sequence) or ``"length"``; ``stop_reason`` is the matched stop string, else None.
    ``token_ids`` are exactly the generated tokens; ``logprobs`` their log-probabilities
    when the engine computes them.
    """

    text: str
    token_ids: list[int]
    cumulative_logprob: float = 0.0
    finish_reason: str = "stop"
    stop_reason: str | None = None
    logprobs: list[float] | None = None


@runtime_checkable
class Engine(Protocol):
    """Generates continuations of token-id prompts."""

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens added."""

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids``."""

    def generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        """One generation per prompt, in order."""


@runtime_checkable
class StreamingEngine(Protocol):
    """An engine whose scheduler takes requests one by one: they join and leave between steps."""

    def add_request(self, request_id: str, prompt_ids: list[int], params: SamplingParams) -> None:
        """Queue one request; it joins the running batch at a coming :meth:`step`."""

    def step(self) -> list[tuple[str, Generation]]:
        """Advance every running request by one scheduler step; the requests that ended, with their generation."""

    def has_unfinished(self) -> bool:
        """Whether any request is queued or running."""

    def abort(self, request_ids: list[str]) -> None:
        """Drop queued or running requests (a loop that stops early leaves nothing behind)."""


def streams(engine: object) -> bool:
    """True when ``engine`` implements :class:`StreamingEngine`."""
    return isinstance(engine, StreamingEngine)
