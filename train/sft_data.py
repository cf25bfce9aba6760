"""Masked SFT examples: the model learns its reasoning, code and answer, not the interpreter's output.

The chat template wraps (prompt, response); tokens of the prompt and of every ```` ```output ````
block (found by character offsets) get label -100. Used by ``train.sft`` and ``train.rft``.
"""

from __future__ import annotations

from cort import protocol

IGNORE_INDEX = -100


def chat_texts(tokenizer, prompt: str, response: str) -> tuple[str, str]:
    """(templated prompt with the assistant turn opened, templated prompt + response + end of turn)."""
    user = [{"role": "user", "content": prompt}]
    prompt_text = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": response}], tokenize=False)
    if not full.startswith(prompt_text) or response not in full[len(prompt_text):]:
        full = prompt_text + response + (tokenizer.eos_token or "")
    return prompt_text, full


def masked_example(tokenizer, prompt: str, response: str, max_length: int | None = None) -> dict:
    """``input_ids`` and ``labels`` (-100 on the prompt and interpreter outputs)."""
    prompt_text, full = chat_texts(tokenizer, prompt, response)
    start = full.index(response, len(prompt_text)) if response else len(prompt_text)
    masked_spans = [(0, start)] + [(start + o.start, start + o.end) for o in protocol.find_outputs(response)]
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    for token, (a, b) in zip(enc["input_ids"], enc["offset_mapping"]):
        hidden = any(a < e and max(b, a + 1) > s for s, e in masked_spans)
        labels.append(IGNORE_INDEX if hidden else token)
    ids = enc["input_ids"]
    if max_length:
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "labels": labels}
