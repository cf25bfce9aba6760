"""The transformers engine's own decoding loop, checked against transformers' ``generate``."""

import pytest
import torch

from cort.engine import SamplingParams
from infer.engines.hf import _sample

pytestmark = pytest.mark.slow


def _chat(tokenizer, question: str) -> list[int]:
    text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


QUESTIONS = ["What is 2+2?", "Name a prime number larger than 100 and explain why it is prime.",
             "Write one sentence about the sea."]


def test_greedy_matches_transformers_generate(hf_engine, tokenizer):
    prompts = [_chat(tokenizer, q) for q in QUESTIONS]
    ours = hf_engine.generate(prompts, [SamplingParams(0.0, 1.0, 24, [], 0)] * len(prompts))
    width = max(map(len, prompts))
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    ref = hf_engine.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=24, do_sample=False,
                                   pad_token_id=pad)[:, width:].tolist()
    for gen, row in zip(ours, ref):
        assert gen.token_ids == row[:len(gen.token_ids)]
        assert len(gen.token_ids) == 24 or gen.finish_reason == "stop"


def test_a_row_does_not_depend_on_its_batch(hf_engine, tokenizer):
    prompts = [_chat(tokenizer, q) for q in QUESTIONS]
    params = [SamplingParams(0.8, 0.95, 30, [], 100 + i) for i in range(len(prompts))]
    together = hf_engine.generate(prompts, params)
    alone = hf_engine.generate([prompts[1]], [params[1]])[0]
    assert alone.token_ids == together[1].token_ids
    again = hf_engine.generate(prompts, params)
    assert [g.token_ids for g in again] == [g.token_ids for g in together]
    other_seed = hf_engine.generate([prompts[1]], [SamplingParams(0.8, 0.95, 30, [], 999)])[0]
    assert other_seed.token_ids != alone.token_ids


def test_rows_end_on_their_own_budget_and_stop_string(hf_engine, tokenizer):
    prompt = _chat(tokenizer, "Write a long story about a sailor and the sea.")
    short, long_ = hf_engine.generate([prompt, prompt], [SamplingParams(0.0, 1.0, 5, [], 0),
                                                         SamplingParams(0.0, 1.0, 20, [], 0)])
    assert len(short.token_ids) == 5 and short.finish_reason == "length"
    assert long_.token_ids[:5] == short.token_ids
    word = hf_engine.decode(long_.token_ids[:8]).split()[1]  # a word the model writes early
    stopped = hf_engine.generate([prompt], [SamplingParams(0.0, 1.0, 20, [word], 0)])[0]
    assert stopped.finish_reason == "stop" and stopped.stop_reason == word
    assert stopped.text.endswith(word) or word in stopped.text
    assert len(stopped.token_ids) < 20 and stopped.token_ids == long_.token_ids[:len(stopped.token_ids)]
    assert len(stopped.logprobs) == len(stopped.token_ids) and all(lp <= 0 for lp in stopped.logprobs)


def test_nucleus_sampling_keeps_transformers_support_and_frequencies():
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

    torch.manual_seed(0)
    logits = torch.randn(1, 60) * 2
    expected = TopPLogitsWarper(0.9)(None, TemperatureLogitsWarper(0.7)(None, logits.clone())).softmax(-1)[0]
    for candidates in (4, 60):  # nucleus wider than the candidates (whole-vocabulary path), and within them
        counts = torch.zeros(60)
        gen = [torch.Generator().manual_seed(1)]
        for _ in range(6000):
            counts[_sample(logits, 0.7, 0.9, gen, candidates=candidates)[0]] += 1
        assert set(torch.nonzero(counts).flatten().tolist()) <= set(torch.nonzero(expected).flatten().tolist())
        assert (counts / 6000 - expected).abs().max() < 0.02
