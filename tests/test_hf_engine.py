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


def _alone(engine, prompt, params):
    return engine.generate([prompt], [params])[0]


def _drain(engine) -> dict:
    done = {}
    while engine.has_unfinished():
        done.update(engine.step())
    return done


def test_requests_joining_a_running_batch_get_the_tokens_they_get_alone(hf_engine, tokenizer):
    """Continuous batching: newcomers (longer and shorter than the running cache) are spliced in between
    steps, rows with other sampling settings share the steps, and a row's tokens do not change."""
    short = _chat(tokenizer, "Hi.")
    long_ = _chat(tokenizer, "Explain, in several careful sentences, why the sum of two even numbers is even, "
                             "and give three worked examples with small numbers.")
    mid = _chat(tokenizer, "What is the capital of France?")
    params = {"a": SamplingParams(0.8, 0.95, 40, [], 7), "b": SamplingParams(0.8, 0.95, 30, [], 8),
              "c": SamplingParams(0.0, 1.0, 12, [], 9), "d": SamplingParams(1.0, 0.9, 20, ["."], 10)}
    prompts = {"a": short, "b": long_, "c": mid, "d": mid}
    hf_engine.add_request("a", short, params["a"])
    done = {}
    for _ in range(6):
        done.update(hf_engine.step())
    assert len(hf_engine._stream.rows) == 1
    hf_engine.add_request("b", long_, params["b"])  # its prompt is longer than a's context so far
    hf_engine.add_request("c", mid, params["c"])
    done.update(hf_engine.step())
    assert [r.request_id for r in hf_engine._stream.rows] == ["a", "b", "c"]
    for _ in range(3):
        done.update(hf_engine.step())
    hf_engine.add_request("d", mid, params["d"])
    done.update(_drain(hf_engine))
    assert sorted(done) == ["a", "b", "c", "d"] and hf_engine._stream.cache is None
    for key, gen in done.items():
        ref = _alone(hf_engine, prompts[key], params[key])
        assert gen.token_ids == ref.token_ids, key
        assert gen.finish_reason == ref.finish_reason and gen.stop_reason == ref.stop_reason
        assert gen.logprobs == pytest.approx(ref.logprobs, abs=1e-3)
    assert done["d"].stop_reason == "." or done["d"].finish_reason == "length"


def test_batch_size_caps_the_running_requests_and_abort_drops_one(hf_engine, tokenizer):
    from infer.engines.hf import HFEngine

    engine = HFEngine(model=hf_engine.model, tokenizer=tokenizer, batch_size=2)
    prompts = [_chat(tokenizer, q) for q in QUESTIONS + ["Count to five."]]
    params = [SamplingParams(0.7, 0.95, 16 + 4 * i, [], 20 + i) for i in range(len(prompts))]
    for i, (p, sp) in enumerate(zip(prompts, params)):
        engine.add_request(str(i), p, sp)
    engine.step()
    assert len(engine._stream.rows) == 2 and len(engine._stream.waiting) == 2
    engine.abort(["0"])
    assert [r.request_id for r in engine._stream.rows] == ["1"]
    done = _drain(engine)
    assert sorted(done) == ["1", "2", "3"] and not engine.has_unfinished()
    for key, gen in done.items():
        assert gen.token_ids == _alone(engine, prompts[int(key)], params[int(key)]).token_ids
    together = engine.generate(prompts, params)  # generate: four prompts through two rows
    assert [g.token_ids for g in together] == [_alone(engine, p, sp).token_ids for p, sp in zip(prompts, params)]


def test_a_model_with_sliding_window_layers_admits_only_into_an_empty_batch(tokenizer):
    """Layers that are not plain growing caches cannot be spliced: newcomers wait for the batch to empty."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from infer.engines.hf import HFEngine

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, use_sliding_window=True, sliding_window=8,
                         layer_types=["sliding_attention", "full_attention"], max_position_embeddings=256)
    engine = HFEngine(model=Qwen2ForCausalLM(config), tokenizer=tokenizer, batch_size=4)
    assert not engine.splices
    prompts = [_chat(tokenizer, q) for q in QUESTIONS]
    params = [SamplingParams(0.9, 0.95, 10, [], 40 + i) for i in range(len(prompts))]
    engine.add_request("0", prompts[0], params[0])
    engine.step()
    engine.add_request("1", prompts[1], params[1])
    engine.add_request("2", prompts[2], params[2])
    engine.step()
    assert [r.request_id for r in engine._stream.rows] == ["0"]  # the newcomers wait
    done = _drain(engine)
    for key, gen in done.items():
        assert gen.token_ids == _alone(engine, prompts[int(key)], params[int(key)]).token_ids


def _stopped_request(engine, tokenizer, question="Write a long story about a sailor and the sea."):
    """A prompt, and a greedy request on it that ends at a stop string (a word the model writes early)."""
    prompt = _chat(tokenizer, question)
    free = engine.generate([prompt], [SamplingParams(0.0, 1.0, 20, [], 0)])[0]
    word = engine.decode(free.token_ids[:8]).split()[1]
    stopped = engine.generate([prompt], [SamplingParams(0.0, 1.0, 20, [word], 0)])[0]
    assert stopped.stop_reason == word
    return prompt, stopped


def test_a_continuation_prefills_only_its_new_tokens_and_gets_a_cold_starts_tokens(hf_engine, tokenizer):
    """A request that ended at a stop string leaves its KV; the request continuing it (as the tool loop's
    next round does) prefills only what follows, and samples what an engine that kept nothing samples."""
    from infer.engines.hf import HFEngine

    warm = HFEngine(model=hf_engine.model, tokenizer=tokenizer)
    cold = HFEngine(model=hf_engine.model, tokenizer=tokenizer, continuation_cache_bytes=0)
    prompt, stopped = _stopped_request(warm, tokenizer)
    assert len(warm.continuations.entries) == 1
    extra = warm.encode("\n```output\n42\n```\n")
    continuation = prompt + stopped.token_ids + extra
    params = [SamplingParams(0.7, 0.95, 16, [], 3)]
    before = warm.prefilled_tokens
    ours = warm.generate([continuation], params)[0]
    assert warm.prefilled_tokens - before == 1 + len(extra)  # the last sampled token and the output block
    assert not warm.continuations.entries  # taken once
    ref = cold.generate([continuation], params)[0]
    assert cold.prefilled_tokens >= len(continuation) and cold.continuations is None
    assert ours.token_ids == ref.token_ids
    assert ours.logprobs == pytest.approx(ref.logprobs, abs=1e-3)
    # a newcomer beside the continuation in one join: one kept past, one cold prompt, both right
    prompt, stopped = _stopped_request(warm, tokenizer)
    other = _chat(tokenizer, "Name three colours.")
    both = warm.generate([prompt + stopped.token_ids + extra, other], params * 2)
    assert [g.token_ids for g in both] == [g.token_ids for g in cold.generate([prompt + stopped.token_ids + extra,
                                                                               other], params * 2)]


def test_kept_kv_stays_within_its_budget_and_reset_drops_it(hf_engine, tokenizer):
    from infer.engines.hf import HFEngine

    probe = HFEngine(model=hf_engine.model, tokenizer=tokenizer)
    _stopped_request(probe, tokenizer)
    one = probe.continuations.nbytes
    engine = HFEngine(model=hf_engine.model, tokenizer=tokenizer, continuation_cache_bytes=int(1.5 * one))
    first_prompt, first = _stopped_request(engine, tokenizer)
    _stopped_request(engine, tokenizer, "Write a short poem about the moon.")  # evicts the first entry
    assert len(engine.continuations.entries) == 1 and engine.continuations.nbytes <= 1.5 * one
    continuation = first_prompt + first.token_ids + engine.encode(" Then")
    before = engine.prefilled_tokens
    got = engine.generate([continuation], [SamplingParams(0.0, 1.0, 8, [], 0)])[0]
    assert engine.prefilled_tokens - before == len(continuation)  # its entry was dropped: prefilled whole
    assert got.token_ids == probe.generate([continuation], [SamplingParams(0.0, 1.0, 8, [], 0)])[0].token_ids
    engine.reset_prefix_cache()
    assert not engine.continuations.entries and engine.continuations.nbytes == 0


@pytest.mark.parametrize("prefix_len", [3, 40])
def test_kept_continuations_give_the_longest_entry_a_prompt_extends(prefix_len):
    """The continuation cache: the longest kept entry whose tokens the prompt extends, taken once; entries of the
    same problem's other samples (same prompt, other tokens after it) and entries as long as the prompt are not."""
    from infer.engines.hf import _Continuations

    kv = [(torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2))]
    shared = list(range(prefix_len))
    cache = _Continuations(max_bytes=1 << 20)
    mine_short, mine_long = shared + [7, 7], shared + [7, 7, 8, 9, 10, 11, 12, 13, 14]
    sibling = shared + [7, 7, 8, 9, 10, 11, 12, 13, 99]  # as long as mine_long, its last token differs
    for tokens in (shared, mine_short, sibling, mine_long, shared + [5] * 30):
        cache.put(tokens, kv)
    prompt = mine_long + [1, 2, 3]
    assert cache.take(prompt).tokens == mine_long
    assert cache.take(prompt).tokens == mine_short  # taken once: the next longest
    assert cache.take(prompt).tokens == shared
    assert cache.take(prompt) is None
    assert cache.take(sibling) is None  # an entry is continued only by a longer prompt
    assert cache.take(sibling + [4]).tokens == sibling
    assert len(cache.entries) == 1 and cache.nbytes == 16
