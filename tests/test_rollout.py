"""The multi-turn tool loop: recorded model text through the real tokenizer and real kernels."""

import time

import pytest

from cort import protocol
from cort.replay import ReplayEngine
from cort.rollout import INTERPRETER, MODEL, RolloutConfig, run_rollouts

P1, P2 = "<problem one>\n", "<problem two>\n"


def _cfg(**kw):
    base = dict(max_func_call=15, max_tokens_per_call=512, max_model_len=4096, temperature=0.0)
    base.update(kw)
    return RolloutConfig(**base)


def test_stateful_two_calls_and_token_exact_mask(tokenizer, executor):
    script = ("Let me compute.\n```python\nx = 6 * 7\nprint(x)\n```\n"
              "Now add one.\n```python\nprint(x + 1)\n```\nThe answer is \\boxed{43}.")
    engine = ReplayEngine(tokenizer, {P1: script})
    [t] = run_rollouts(engine, [P1], _cfg(), executor=executor)
    assert t.finish_reason == "stop" and t.code_calls == 2 and t.code_errors == 0
    assert [o.text for o in protocol.find_outputs(t.text)] == ["42", "43"]
    assert t.text.endswith("\\boxed{43}.")
    assert [s.role for s in t.segments] == [MODEL, INTERPRETER, MODEL, INTERPRETER, MODEL]
    interp = [tok for tok, m in zip(t.completion_ids, t.model_mask) if m == 0]
    assert tokenizer.decode(interp) == "```output\n42\n```\n```output\n43\n```\n"
    model = [tok for tok, m in zip(t.completion_ids, t.model_mask) if m == 1]
    assert "print(x + 1)" in tokenizer.decode(model) and "```output" not in tokenizer.decode(model)
    assert t.model_tokens == len(model) and t.cumulative_logprob == pytest.approx(-0.5 * len(model))


def test_python_mode_is_stateless(tokenizer, executor):
    script = "```python\nx = 1\nprint(x)\n```\n```python\nprint(x)\n```\nDone."
    engine = ReplayEngine(tokenizer, {P1: script})
    [t] = run_rollouts(engine, [P1], _cfg(func_call_mode="python"), executor=executor)
    outs = [o.text for o in protocol.find_outputs(t.text)]
    assert outs[0] == "1" and outs[1].endswith("NameError: name 'x' is not defined")
    assert t.code_calls == 2 and t.code_errors == 1


def test_budget_warning_and_last_round_without_stops(tokenizer, executor):
    script = ("```python\nprint(1)\n```\n```python\nprint(2)\n```\n```python\nprint(3)\n```\nEnd.")
    engine = ReplayEngine(tokenizer, {P1: script})
    [t] = run_rollouts(engine, [P1], _cfg(max_func_call=3), executor=executor)
    outs = protocol.find_outputs(t.text)
    assert [o.text.split("\n")[0] for o in outs] == ["1", "2"]
    assert protocol.BUDGET_WARNING not in outs[0].text and protocol.BUDGET_WARNING in outs[1].text
    assert [p.stop for _, p in engine.calls] == [["`\n"], ["`\n"], []]
    assert t.code_calls == 2 and t.text.endswith("print(3)\n```\nEnd.")


def test_max_func_call_one_means_no_code(tokenizer, executor):
    engine = ReplayEngine(tokenizer, {P1: "```python\nprint(1)\n```\nEnd."})
    [t] = run_rollouts(engine, [P1], _cfg(max_func_call=1), executor=executor)
    assert t.code_calls == 0 and engine.calls[0][1].stop == []


def test_false_stop_continues_without_using_a_call(tokenizer, executor):  # kernel mode only
    script = "Use `n`\nthen:\n```python\ns = '''\n```\n'''\nprint(len(s))\n```\nDone."
    engine = ReplayEngine(tokenizer, {P1: script})
    [t] = run_rollouts(engine, [P1], _cfg(max_func_call=3, interpreter_mode="kernel"), executor=executor)
    assert t.false_stops == 2 and t.rounds == 1 and t.code_calls == 1
    assert [o.text for o in protocol.find_outputs(t.text)] == ["5"]


def test_empty_cell_adds_nothing_in_kernel_mode_and_an_empty_block_in_original_mode(tokenizer, executor):
    engine = ReplayEngine(tokenizer, {P1: "```python\n```\nThen prose."})
    [t] = run_rollouts(engine, [P1], _cfg(interpreter_mode="kernel"), executor=executor)
    assert t.rounds == 1 and t.code_calls == 0 and "```output" not in t.text
    assert t.text == "```python\n```\nThen prose."
    engine = ReplayEngine(tokenizer, {P1: "```python\n```\nThen prose."})
    [t] = run_rollouts(engine, [P1], _cfg(), executor=executor)  # no complete block: the original runs ""
    assert t.rounds == 2 and t.code_calls == 0 and t.text == "```python\n```\n```output\n\n```\nThen prose."


def test_output_past_model_length_ends_without_it(tokenizer, executor):
    script = "```python\nprint('y' * 700)\n```\nNever reached."
    prompt_len = len(tokenizer(P1, add_special_tokens=False)["input_ids"])
    engine = ReplayEngine(tokenizer, {P1: script})
    [t] = run_rollouts(engine, [P1], _cfg(max_model_len=prompt_len + 40), executor=executor)
    assert t.finish_reason == "length" and t.code_calls == 1
    assert all(s.role == MODEL for s in t.segments) and "```output" not in t.text


def test_tokens_per_call_budget(tokenizer, executor):
    engine = ReplayEngine(tokenizer, {P1: "word " * 200})
    [t] = run_rollouts(engine, [P1], _cfg(max_tokens_per_call=16), executor=executor)
    assert t.finish_reason == "length" and t.model_tokens == 16


@pytest.mark.parametrize("loop", ["continuous", "batch"])
def test_slow_cell_does_not_block_other_trajectories(tokenizer, executor, loop):
    slow = "```python\nimport time\ntime.sleep(3)\nprint('slow')\n```\nSlow done."
    fast = "".join(f"```python\nprint({i})\n```\n" for i in range(3)) + "Fast done."
    engine = ReplayEngine(tokenizer, {P1: slow, P2: fast}, seconds_per_call=0.05)
    finished: list[tuple[str, float]] = []
    start = time.monotonic()
    trajs = run_rollouts(engine, [P1, P2], _cfg(loop=loop), executor=executor,
                         on_finish=lambda t: finished.append((t.prompt, time.monotonic() - start)))
    assert [p for p, _ in finished] == [P2, P1]
    assert (engine.steps > 0) == (loop == "continuous")  # continuous: the engine was driven step by step
    assert finished[0][1] < 2.5  # the fast one ended while the slow cell was still running
    assert trajs[1].code_calls == 3 and trajs[0].text.endswith("Slow done.")


def test_epoch_synchronous_mode_waits_for_every_cell(tokenizer, executor):
    slow = "```python\nimport time\ntime.sleep(2)\nprint('slow')\n```\nSlow done."
    fast = "```python\nprint(0)\n```\n```python\nprint(1)\n```\nFast done."
    engine = ReplayEngine(tokenizer, {P1: slow, P2: fast})
    finished: list[tuple[str, float]] = []
    start = time.monotonic()
    run_rollouts(engine, [P1, P2], _cfg(loop="epoch"), executor=executor,
                 on_finish=lambda t: finished.append((t.prompt, time.monotonic() - start)))
    assert all(t >= 2.0 for _, t in finished)  # round 2 of the fast one waited for the slow cell
    assert [k for k, _ in engine.calls[:2]] == [P1, P2] and len(engine.calls) == 5


def test_temperature_zero_forces_top_p_one(tokenizer, executor):
    engine = ReplayEngine(tokenizer, {P1: "No code."})
    run_rollouts(engine, [P1], _cfg(temperature=0.0, top_p=0.95), executor=executor)
    assert engine.calls[0][1].top_p == 1.0


@pytest.mark.slow
def test_real_model_real_kernel_end_to_end(hf_engine, tokenizer, executor):
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 123*456? Use python."}], tokenize=False, add_generation_prompt=True)
    prompt = chat + "I will use python.\n```python\nprint(123*456)\n"
    # kernel mode: the cell opens in the prompt, which the original's round test would not count
    trajs = run_rollouts(hf_engine, [prompt, prompt], _cfg(max_func_call=3, max_tokens_per_call=48,
                         max_model_len=1024, temperature=0.7, seed=3, interpreter_mode="kernel"),
                         executor=executor)
    for t in trajs:
        assert t.code_calls >= 1
        assert protocol.find_outputs(t.text)[0].text == "56088"
        assert len(t.completion_ids) == len(t.model_mask)
        model_segs = [s for s in t.segments if s.role == MODEL]
        assert all(len(s.logprobs) == len(s.token_ids) for s in model_segs)
        assert all(lp <= 0 for s in model_segs for lp in s.logprobs)


@pytest.mark.parametrize("loop", ["continuous", "batch", "epoch"])
def test_more_trajectories_than_kernels_completes(tokenizer, loop):
    from cort.executor import JupyterExecutor

    scripts = {f"<p{i}>\n": f"```python\nv = {i}\n```\n```python\nprint(v * 2)\n```\nEnd {i}." for i in range(7)}
    engine = ReplayEngine(tokenizer, scripts)
    with JupyterExecutor(timeout=10, max_kernels=2, warm_kernels=1) as ex:
        trajs = run_rollouts(engine, list(scripts), _cfg(loop=loop), executor=ex)
    for i, t in enumerate(trajs):
        assert [o.text for o in protocol.find_outputs(t.text)] == ["", str(2 * i)] and t.finish_reason == "stop"


def test_continuous_loop_does_not_wait_for_the_longest_generation(tokenizer, executor):
    """A trajectory whose cell returns rejoins while a long generation is still running."""
    long_text = "word " * 400 + "Long done."
    short = "".join(f"```python\nprint({i})\n```\n" for i in range(4)) + "Short done."
    finished = {}
    for loop in ("continuous", "batch"):
        engine = ReplayEngine(tokenizer, {P1: long_text, P2: short}, seconds_per_token=0.004)
        ends = finished.setdefault(loop, {})
        start = time.monotonic()
        run_rollouts(engine, [P1, P2], _cfg(loop=loop), executor=executor,
                     on_finish=lambda t, ends=ends, start=start: ends.update({t.prompt: time.monotonic() - start}))
    long_seconds = finished["batch"][P1]
    assert finished["batch"][P2] > long_seconds * 0.9  # each batch call waited for the long sequence
    assert finished["continuous"][P2] < long_seconds * 0.6  # the short one finished its 4 cells meanwhile


def _workload(n: int, seed: int) -> dict[str, str]:
    """Uneven recorded trajectories: 0-4 cells each (some slow, some failing), prose of varying length."""
    import random

    rng = random.Random(seed)
    scripts = {}
    for i in range(n):
        parts = []
        for k in range(rng.randint(0, 4)):
            code = rng.choice([f"print({i} * {k} + 1)", "import time\ntime.sleep(0.4)\nprint('slept')",
                               "1 / 0", f"x = [j * j for j in range({i + 3})]\nprint(sum(x))"])
            parts.append("step " * rng.randint(1, 60) + f"\n```python\n{code}\n```\n")
        parts.append(f"So the answer is \\boxed{{{i}}}.")
        scripts[f"<replayed problem {i}>\n"] = "".join(parts)
    return scripts


@pytest.mark.parametrize("mode", ["original", "kernel"])
def test_continuous_and_epoch_synchronous_loops_give_identical_trajectories(tokenizer, mode):
    """Scheduling only: the same replayed workload gives token-identical records and counters (the executor in
    this process or in its own)."""
    from cort.executor import ExecutorConfig, start_executor

    scripts = _workload(10, seed=5)
    records = {}
    for name, loop, process in (("epoch", "epoch", "inline"), ("batch", "batch", "inline"),
                                ("continuous", "continuous", "inline"), ("separate", "continuous", "separate")):
        engine = ReplayEngine(tokenizer, scripts, seconds_per_token=0.001)
        cfg = _cfg(loop=loop, max_func_call=4, interpreter_mode=mode, temperature=0.6, seed=11)
        with start_executor(ExecutorConfig(timeout=10, max_kernels=3, warm_kernels=2), process) as ex:
            trajs = run_rollouts(engine, list(scripts), cfg, executor=ex)
        records[name] = [([(s.role, s.text, s.token_ids) for s in t.segments], t.rounds, t.code_calls,
                          t.code_errors, t.finish_reason) for t in trajs]
        # the seed of every generate call is part of the record: the same per trajectory and round
        records[name + " seeds"] = sorted((key, p.seed, p.max_tokens, tuple(p.stop)) for key, p in engine.calls)
    assert records["continuous"] == records["epoch"] == records["batch"] == records["separate"]
    assert records["continuous seeds"] == records["epoch seeds"] == records["separate seeds"]
    assert sum(r[2] for r in records["epoch"]) >= 10  # the workload did run cells


@pytest.mark.slow
def test_real_model_continuous_loop_gives_the_epoch_loops_trajectories(hf_engine, tokenizer, executor):
    """The transformers engine streams: trajectories resume mid-batch when their cells return, and the
    records (tokens, log-probs, outputs, counters) are those of the epoch-synchronous and batch loops."""
    from cort.engine import streams

    assert streams(hf_engine)
    prompts = []
    for a, b in [(123, 456), (7, 89), (31, 4), (250, 12)]:
        chat = tokenizer.apply_chat_template([{"role": "user", "content": f"What is {a}*{b}? Use python."}],
                                             tokenize=False, add_generation_prompt=True)
        prompts.append(chat + f"I will use python.\n```python\nprint({a}*{b})\n")
    from infer.engines.hf import HFEngine

    cold = HFEngine(model=hf_engine.model, tokenizer=tokenizer, continuation_cache_bytes=0)
    records, prefilled = {}, {}
    for loop, engine in (("epoch", hf_engine), ("batch", hf_engine), ("continuous", hf_engine),
                         ("continuous, nothing kept", cold)):
        cfg = _cfg(loop=loop.split(",")[0], max_func_call=4, max_tokens_per_call=40, max_model_len=1024,
                   temperature=0.8, seed=5, interpreter_mode="kernel")
        engine.reset_prefix_cache()
        before = engine.prefilled_tokens
        trajs = run_rollouts(engine, prompts, cfg, executor=executor)
        prefilled[loop] = engine.prefilled_tokens - before
        records[loop] = [([(s.role, s.text, s.token_ids) for s in t.segments], t.rounds, t.code_calls,
                          t.finish_reason) for t in trajs]
        records[loop + " logprobs"] = [lp for t in trajs for s in t.segments if s.role == MODEL for lp in s.logprobs]
    assert records["continuous"] == records["epoch"] == records["batch"] == records["continuous, nothing kept"]
    assert records["continuous logprobs"] == pytest.approx(records["epoch logprobs"], abs=1e-3)
    assert sum(r[2] for r in records["epoch"]) >= 4  # every trajectory ran its cell
    # continuations start from their trajectory's kept KV: far fewer tokens prefilled, the same records
    assert prefilled["continuous"] == prefilled["epoch"] < prefilled["continuous, nothing kept"] / 2
    assert not hf_engine.has_unfinished()
