"""Masked SFT examples: the model learns its reasoning, code and answer, not the interpreter's output.

Two sources, one result (``input_ids`` + ``labels`` with -100 where no loss is taken):

- text trajectories (:func:`masked_example`): the chat template wraps (prompt, response); tokens of
  the prompt and of every ```` ```output ```` block (found by character offsets) get -100;
- token-exact records from the tool loop (:func:`token_example`): the engine's own ids, with -100
  on the prompt and wherever ``model_mask`` is 0 (interpreter tokens). Nothing is re-tokenised.
"""

from __future__ import annotations

from cort import protocol
from cort.chat import render_conversation

IGNORE_INDEX = -100


def masked_example(tokenizer, prompt: str, response: str, max_length: int | None = None) -> dict:
    """``input_ids`` and ``labels`` (-100 on the prompt and interpreter outputs) from text."""
    prompt_text, full = render_conversation(tokenizer, prompt, response)
    start = full.index(response, len(prompt_text)) if response else len(prompt_text)
    masked_spans = [(0, start)] + [(start + o.start, start + o.end) for o in protocol.find_outputs(response)]
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    for token, (a, b) in zip(enc["input_ids"], enc["offset_mapping"]):
        hidden = any(a < e and max(b, a + 1) > s for s, e in masked_spans)
        labels.append(IGNORE_INDEX if hidden else token)
    return _cut(enc["input_ids"], labels, max_length)


def token_example(prompt_ids: list[int], completion_ids: list[int], model_mask: list[int],
                  max_length: int | None = None) -> dict:
    """``input_ids`` and ``labels`` from a token-exact trajectory (-100 on the prompt and interpreter tokens)."""
    if len(completion_ids) != len(model_mask):
        raise ValueError("model_mask needs one entry per completion token")
    labels = [IGNORE_INDEX] * len(prompt_ids) + [t if m else IGNORE_INDEX for t, m in zip(completion_ids, model_mask)]
    return _cut(list(prompt_ids) + list(completion_ids), labels, max_length)


def _cut(ids: list[int], labels: list[int], max_length: int | None) -> dict:
    if max_length:
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "labels": labels}
