"""Chat templating, once: the prompt a model continues and the (prompt, response) pair SFT trains on.

The prompt-hint (``--hint_mode prompt``) is placed here, at the start of the model's thinking,
with the text from :mod:`cort.hints`.
"""

from __future__ import annotations

from cort import hints

HINT_MODES = ("none", "prompt")


def _messages(prompt: str | list[dict]) -> list[dict]:
    return list(prompt) if isinstance(prompt, list) else [{"role": "user", "content": prompt}]


def render_prompt(tokenizer, prompt: str | list[dict], hint_mode: str = "none") -> str:
    """The templated prompt with the assistant turn opened (a user string or chat messages).

    ``hint_mode="prompt"`` puts CoRT's prompt-hint at the start of thinking.
    """
    if hint_mode not in HINT_MODES:
        raise ValueError(f"hint_mode must be one of {HINT_MODES}, got {hint_mode!r}")
    text = tokenizer.apply_chat_template(_messages(prompt), tokenize=False, add_generation_prompt=True)
    return hints.add_prompt_hint(text) if hint_mode == "prompt" else text


def render_conversation(tokenizer, prompt: str | list[dict], response: str) -> tuple[str, str]:
    """(templated prompt with the assistant turn opened, templated prompt + response + end of turn).

    When the template rewrites the response (some drop the thinking of past turns), the
    response is appended verbatim with the end-of-sequence token instead, so the training text
    is exactly what the model is asked to produce.
    """
    prompt_text = render_prompt(tokenizer, prompt)
    full = tokenizer.apply_chat_template(_messages(prompt) + [{"role": "assistant", "content": response}],
                                         tokenize=False)
    if not full.startswith(prompt_text) or response not in full[len(prompt_text):]:
        full = prompt_text + response + (tokenizer.eos_token or "")
    return prompt_text, full
