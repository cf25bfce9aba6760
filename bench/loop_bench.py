"""Tool-loop scheduling benchmark: epoch-synchronous (original) / batch loop / continuous loop / floor.

Every row is ``cort.rollout.run_rollouts`` on the same trajectories; only ``RolloutConfig.loop``
changes (``epoch``: all generate, then all cells run, the round waits for the slowest, as the
original CLI; ``batch``: ready trajectories generate together and cells that return during a
call join the next; ``continuous``: each trajectory is its own engine request and resumes the
moment its cell returns). The floor generates the same model tokens with no cells and no
waiting: each trajectory as one request of its total model tokens.

1. ``sim``: :class:`cort.replay.ReplayEngine` as a continuous-batching scheduler (a decoding
   step costs ``--step_ms`` + ``--seq_ms`` per running sequence, at most ``--max_running`` at
   once, prefill of uncached tokens ``--prefill_ms`` per token), heavy-tailed trajectories
   (cells per trajectory 0-12, tokens per round log-normal) and cell times drawn from the
   distribution in :data:`CELL_TIMES` (quick cells as measured by ``bench/executor_bench.py``,
   slow ones, and cells that run into the timeout), slept by a simulated interpreter with a
   bounded number of cells at once (``--max_cells``).
2. ``vllm`` / ``hf`` (``--engine vllm`` in the vLLM environment of the README, or ``--engine hf``: the
   transformers engine, on the GPU when there is one): the real engine with a real model (``--model``,
   default the bundled SmolLM2 folder) on real prompts and real kernels; each cell also sleeps a draw
   from the same cell-time distribution (the small model's cells are all quick), so the workload is
   heavy-tailed in cell time as in the sim. With ``--engine_cpus``/``--cell_cpus`` the engine's
   threads and the interpreter run on disjoint cores, as on a GPU machine, where cells use host CPUs
   that generation does not need (the engine runs in this process: ``VLLMEngine`` pins it to
   ``--engine_cpus`` with one torch thread per core, and so does the bench for ``hf``; the kernels,
   the executor's threads and the loop's cell threads go to ``--cell_cpus``, the executor's ``cpus``;
   a cell computing on a core that the engine also uses stalls every decoding step it overlaps, ~3.5x
   with vLLM, which penalises exactly the loops that generate while cells run). Each row also says
   where its time went (:class:`EngineClock`): inside the engine's calls, outside them, and the CPU
   other threads of this process took on the engine's cores. ``--max_running`` below the number of
   trajectories gives the engine a queue, the regime of real runs (thousands of trajectories, a few
   hundred running).

3. ``--replay`` a ``--record`` file of a vLLM run (its continuous row's trajectories, the
   engine's costs measured at the end of the run, the rows' wall times): the simulator replays
   those trajectories with those costs (scaled by one factor so that the no-tool floor takes
   the measured time, ``--fit_floor``) under ``--draws`` independent cell-time draws, draw 0
   being the vLLM run's own. Draw 0 against the measured rows says how good the model is;
   the other draws say how much one run's ratios owe to its draw of slow cells.

    python bench/loop_bench.py                                   # sim rows
    .venv-vllm/bin/python bench/loop_bench.py --engine vllm --record rec.json   # + vLLM-CPU rows
    python bench/loop_bench.py --engine hf --skip_sim --model <chain model>      # + transformers rows
    python bench/loop_bench.py --replay rec.json --draws 10      # that run under 10 cell-time draws
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import re
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cort.cpus import parse_cpu_list
from cort.errors import CortError, InputError
from cort.executor import ExecutionResult
from cort.rollout import RolloutConfig, run_rollouts

LOOPS = ("epoch", "batch", "continuous")
NAMES = {"epoch": "epoch-synchronous (original)", "batch": "batch loop (previous default)",
         "continuous": "continuous loop (default)", "floor": "floor: same tokens, no cells, no waiting",
         "zero_cells": "floor with the tool's requests: cells return at once"}
# (share, low seconds, high seconds): log-uniform within each band. Quick cells as measured on a warm
# kernel (tens of ms); a slow band (a sympy solve, a loop); the timeout band at --timeout_s.
CELL_TIMES = {"quick": [(1.0, 0.005, 0.04)],
              "heavy": [(0.85, 0.005, 0.04), (0.11, 0.1, 0.6), (0.04, "timeout", "timeout")]}
WORDS = ["we", "now", "compute", "the", "value", "next", "so", "check", "sum", "of", "terms", "then"]


def cell_seconds(key: str, workload: str, timeout: float, draw: int = 0) -> float:
    """A deterministic draw from the workload's cell-time distribution, keyed by the cell's text.

    ``draw`` 0 is the draw of every table; another number gives an independent draw of the same cells.
    """
    key = f"draw {draw}:{key}" if draw else key
    u = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16 ** 12
    v = int(hashlib.sha256(b"v" + key.encode()).hexdigest()[:12], 16) / 16 ** 12
    for share, lo, hi in CELL_TIMES[workload]:
        if u < share:
            lo = timeout if lo == "timeout" else lo
            hi = timeout if hi == "timeout" else hi
            return math.exp(math.log(lo) + v * (math.log(hi) - math.log(lo)))
        u -= share
    return CELL_TIMES[workload][-1][1]


@dataclass
class _Config:
    max_kernels: int


class DrawnCellTimes:
    """The executor surface the loop uses, each cell taking a draw from the cell-time distribution.

    With ``executor`` the cell then runs there for real (its output is the model's observation);
    without, it only sleeps and prints a line (the simulator), at most ``max_cells`` at once.
    """

    def __init__(self, workload: str, timeout: float, executor=None, max_cells: int = 16,
                 draw: int = 0, time_scale: float = 1.0):
        self.workload, self.timeout, self.executor = workload, timeout, executor
        self.draw, self.time_scale = draw, time_scale  # time_scale 0: cells return at once
        self.config = executor.config if executor is not None else _Config(max_cells)
        self.programs: dict[str, ExecutionResult] = {}  # what each program returned (for RecordedCells)
        self.executed: list[float] = []  # seconds each cell then took in the executor (kernel, run, messages)

    def _cell(self, key: str, run) -> ExecutionResult:
        seconds = cell_seconds(key, self.workload, self.timeout, self.draw)
        time.sleep(seconds * self.time_scale)
        if self.executor is not None:
            start = time.perf_counter()
            try:
                return run()
            finally:
                self.executed.append(time.perf_counter() - start)
        if seconds >= self.timeout:
            return ExecutionResult(error="TimeoutError: cell timed out", error_name="TimeoutError", timed_out=True)
        return ExecutionResult(output="42\n", stdout="42\n")

    def run(self, session: str, code: str, timeout: float) -> ExecutionResult:
        return self._cell(session + code, lambda: self.executor.run(session, code, timeout))

    def run_stateless(self, code: str, timeout: float) -> ExecutionResult:
        return self._cell(code, lambda: self.executor.run_stateless(code, timeout))

    def run_program(self, code: str, timeout: float) -> ExecutionResult:
        result = self._cell(code, lambda: self.executor.run_program(code, timeout))
        self.programs[code] = result
        return result

    def close(self, session: str) -> None:
        if self.executor is not None:
            self.executor.close(session)


class RecordedCells:
    """Cells that return at once what an earlier run's cells returned (keyed by the program's text).

    The "zero cell time" floor: the same requests as the tool loop (every continuation and its
    interpreter tokens), with no time spent in cells. A program not seen before runs for real.
    """

    def __init__(self, recorded: dict[str, ExecutionResult], executor):
        self.recorded, self.executor, self.config, self.misses = recorded, executor, executor.config, 0

    def run_program(self, code: str, timeout: float) -> ExecutionResult:
        if code in self.recorded:
            return self.recorded[code]
        self.misses += 1
        return self.executor.run_program(code, timeout)

    def close(self, session: str) -> None:
        self.executor.close(session)


def sim_scripts(n: int, seed: int) -> dict[str, str]:
    """Heavy-tailed model texts: 0-12 cells, rounds of log-normal length (median 60 tokens)."""
    rng = random.Random(seed)
    scripts = {}
    for i in range(n):
        cells = min(12, int(rng.expovariate(1 / 3.0)))
        parts = []
        for k in range(cells + 1):
            words = max(4, min(1500, int(rng.lognormvariate(math.log(60), 0.9))))
            parts.append(" ".join(rng.choice(WORDS) for _ in range(words)))
            if k < cells:
                parts.append(f".\n```python\nprint({i} * {k})  # trajectory {i} cell {k}\n```\n")
        parts.append(". The answer is \\boxed{42}.")
        scripts[f"<problem {i}>\n"] = "".join(parts)
    return scripts


# the simulator's settings (its flags' defaults): 256 trajectories, engine costs in ms, running batch, cell timeout
SIM = dict(trajectories=256, step_ms=1.0, seq_ms=0.05, prefill_ms=0.002, call_ms=5.0, max_running=64, timeout_s=1.0)


def sim_rollout_config(timeout_s: float) -> dict:
    """The simulator rows' rollout settings: up to 15 rounds of up to 4096 tokens, stateless cells."""
    return dict(max_func_call=15, max_tokens_per_call=4096, max_model_len=32768, temperature=0.6, seed=0,
                interpreter_mode="kernel", func_call_mode="python", func_call_timeout=timeout_s)


RECORDING_KEYS = ("workload", "timeout_s", "max_running", "costs", "config", "measured", "trajectories")


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def read_recording(path: str) -> dict:
    """A ``--record`` file, checked (:class:`cort.errors.InputError` naming the file and the field)."""
    from cort.io import read_json

    rec = read_json(path)
    missing = [k for k in RECORDING_KEYS if not isinstance(rec, dict) or k not in rec]
    if missing:
        raise InputError(path, f"not a loop_bench --record file (no {', '.join(missing)})")
    if rec["workload"] not in CELL_TIMES:
        raise InputError(path, f"unknown workload {rec['workload']!r}", field="workload")
    if not _positive(rec["timeout_s"]):
        raise InputError(path, f"must be a number > 0, got {rec['timeout_s']!r}", field="timeout_s")
    if not (isinstance(rec["max_running"], int) and not isinstance(rec["max_running"], bool)
            and rec["max_running"] >= 1):
        raise InputError(path, f"must be an integer >= 1, got {rec['max_running']!r}", field="max_running")
    if not (isinstance(rec["measured"], dict) and all(_positive(v) for v in rec["measured"].values())):
        raise InputError(path, "must map rows to wall seconds > 0", field="measured")
    if not isinstance(rec["config"], dict):
        raise InputError(path, "must be an object of rollout settings", field="config")
    try:
        RolloutConfig(**rec["config"])
    except (TypeError, ValueError) as err:
        raise InputError(path, f"not rollout settings ({err})", field="config") from None
    for k in ("step_ms", "seq_ms", "prefill_ms"):
        value = rec["costs"].get(k) if isinstance(rec["costs"], dict) else None
        if not isinstance(value, (int, float)) or value < 0:
            raise InputError(path, f"must be a number >= 0, got {value!r}", field=f"costs.{k}")
    if not isinstance(rec["trajectories"], list) or not rec["trajectories"]:
        raise InputError(path, "must be a non-empty list", field="trajectories")
    for i, t in enumerate(rec["trajectories"]):
        if not (isinstance(t, dict) and isinstance(t.get("prompt"), str) and isinstance(t.get("model_text"), str)):
            raise InputError(path, "must hold the strings prompt and model_text", field=f"trajectories[{i}]")
    return rec


def recording_scripts(rec: dict) -> dict[str, str]:
    """A recording's trajectories as :class:`cort.replay.ReplayEngine` scripts (each prompt made unique)."""
    return {f"<trajectory {i}>\n{t['prompt']}": t["model_text"] for i, t in enumerate(rec["trajectories"])}


def replay_rows(args, rec: dict, tokenizer) -> list[tuple]:
    """The rows on the simulator replaying a vLLM run (``--replay``): its trajectories, its engine's
    measured costs and cell times from ``--draws`` independent draws, run ``--time_scale`` times as
    fast and reported in the recorded engine's seconds. Draw 0 is the vLLM run's own draw. ``rec``: the
    recording, as :func:`read_recording` returns it."""
    from cort.replay import ReplayEngine

    scripts = recording_scripts(rec)
    scale, costs = args.time_scale, rec["costs"]

    def engine_cost(k: float) -> dict:
        return dict(seconds_per_call=0.0, seconds_per_token=k * scale * costs["step_ms"] / 1e3,
                    seconds_per_sequence=k * scale * costs["seq_ms"] / 1e3,
                    seconds_per_prefill_token=k * scale * costs["prefill_ms"] / 1e3, max_running=rec["max_running"])

    fit = 1.0
    if args.fit_floor and rec["measured"].get("floor"):  # one factor on every cost, fitted on the no-tool row
        wall, _ = timed(sim_floor, ReplayEngine(tokenizer, scripts, **engine_cost(1.0)), scripts)
        fit = rec["measured"]["floor"] * scale / wall
        print(f"costs x {fit:.3f}: the replayed floor row then takes the measured {rec['measured']['floor']:.1f} s",
              file=sys.stderr, flush=True)
    cost = engine_cost(fit)
    name = os.path.basename(args.replay)
    rows = []
    for draw in range(args.draws):
        results = sim_results(tokenizer, scripts, cost, rec["config"], rec["workload"], rec["timeout_s"],
                              len(scripts), draw, scale)
        rows.append((f"replay of {name}, cell-time draw {draw}", results))
        print(f"draw {draw}: " + ", ".join(f"{k} {v[0]:.1f} s" for k, v in results.items()),
              file=sys.stderr, flush=True)
    return rows


def print_replay_summary(rows, rec: dict) -> None:
    """Draw 0 against the measured vLLM rows, then each loop's ratios over the draws: as replayed, and
    adjusted by the replay's error on draw 0 (the measured ratio over the replayed one, kept for every draw)."""
    measured, first = rec["measured"], rows[0][1]
    print("\n| row | measured on vLLM s | replay, draw 0 s | replay / measured |")
    print("|---|---:|---:|---:|")
    for loop in (*LOOPS, "floor", "zero_cells"):
        if loop in measured:
            print(f"| {NAMES[loop]} | {measured[loop]:.1f} | {first[loop][0]:.1f} | "
                  f"{first[loop][0] / measured[loop]:.2f} |")
    print("\n| loop | vs epoch: mean | min | max | adjusted to the measured draw 0: mean | min | max "
          "| vs floor: mean | min | max | draws |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for loop in (*LOOPS, "floor", "zero_cells"):
        vs_epoch = [res["epoch"][0] / res[loop][0] for _, res in rows]
        vs_floor = [res["floor"][0] / res[loop][0] for _, res in rows]
        cells = [f"{sum(vs_epoch) / len(rows):.2f}x", f"{min(vs_epoch):.2f}x", f"{max(vs_epoch):.2f}x"]
        if "epoch" in measured and loop in measured:
            bias = measured["epoch"] / measured[loop] / vs_epoch[0]
            cells += [f"{sum(vs_epoch) / len(rows) * bias:.2f}x", f"{min(vs_epoch) * bias:.2f}x",
                      f"{max(vs_epoch) * bias:.2f}x"]
        else:
            cells += ["", "", ""]
        cells += [f"{sum(vs_floor) / len(rows):.2f}", f"{min(vs_floor):.2f}", f"{max(vs_floor):.2f}", str(len(rows))]
        print(f"| {NAMES[loop]} | " + " | ".join(cells) + " |")
    print("\n(ratios of wall time on the same tokens; 'floor' generates them with no tool)")


def timed(fn, *args, **kwargs):
    """(wall seconds, result) of one call."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def sim_floor(engine, scripts: dict[str, str]) -> int:
    """Every script as one request with no stop strings (no cells, no waiting); model tokens generated."""
    from cort.engine import SamplingParams

    for k in scripts:
        engine.add_request(k, engine.encode(k), SamplingParams(0.6, 0.95, 1 << 20, [], 0))
    tokens = 0
    while engine.has_unfinished():
        tokens += sum(len(g.token_ids) for _, g in engine.step())
    return tokens


def sim_results(tokenizer, scripts: dict[str, str], cost: dict, cfg: dict, workload: str, timeout: float,
                max_cells: int, draw: int = 0, time_scale: float = 1.0) -> dict:
    """The three loops and the two floors on :class:`cort.replay.ReplayEngine` for one cell-time draw:
    row -> (wall seconds divided by ``time_scale``, model tokens, code calls)."""
    from cort.replay import ReplayEngine

    results = {}
    for loop in (*LOOPS, "zero_cells"):
        interp = DrawnCellTimes(workload, timeout, max_cells=max_cells, draw=draw,
                                time_scale=0.0 if loop == "zero_cells" else time_scale)
        config = RolloutConfig(loop="continuous" if loop == "zero_cells" else loop, **cfg)
        wall, trajs = timed(run_rollouts, ReplayEngine(tokenizer, scripts, **cost), list(scripts), config,
                            executor=interp)
        results[loop] = (wall / time_scale, sum(t.model_tokens for t in trajs), sum(t.code_calls for t in trajs))
    wall, tokens = timed(sim_floor, ReplayEngine(tokenizer, scripts, **cost), scripts)
    results["floor"] = (wall / time_scale, tokens, 0)
    return results


def sim_rows(args, tokenizer) -> list[tuple]:
    """The rows on the simulator for each workload: the three loops and the two floors."""
    scripts = sim_scripts(args.trajectories, args.seed)
    cost = dict(seconds_per_call=args.call_ms / 1e3, seconds_per_token=args.step_ms / 1e3,
                seconds_per_sequence=args.seq_ms / 1e3, seconds_per_prefill_token=args.prefill_ms / 1e3,
                max_running=args.max_running)
    cfg = sim_rollout_config(args.timeout_s)
    return [(f"sim, {args.trajectories} trajectories, {workload} cells",
             sim_results(tokenizer, scripts, cost, cfg, workload, args.timeout_s, args.max_cells))
            for workload in args.workloads.split(",")]


class EngineClock:
    """Times a row: seconds inside the engine's ``generate``/``step`` calls and the calls made, and the CPU
    seconds this process's other threads spent on the engine's cores (the executor's, vLLM's own)."""

    def __init__(self, engine, engine_cpus: set[int] | None):
        self.engine, self.cpus = engine, engine_cpus or set(os.sched_getaffinity(0))
        self.inside, self.calls = 0.0, 0

    def _timed(self, fn):
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.inside += time.perf_counter() - start
                self.calls += 1
        return call

    def __enter__(self) -> "EngineClock":
        self.engine.generate, self.engine.step = self._timed(self.engine.generate), self._timed(self.engine.step)
        self.cpu0 = self.threads_cpu()
        return self

    def __exit__(self, *exc) -> None:
        del self.engine.generate, self.engine.step  # the class's methods again
        after = self.threads_cpu()
        self.others = sum(v - self.cpu0.get(tid, (0.0, ""))[0] for tid, (v, _) in after.items())
        self.by_thread = {}
        for tid, (v, name) in after.items():
            self.by_thread[name] = self.by_thread.get(name, 0.0) + v - self.cpu0.get(tid, (0.0, ""))[0]

    def threads_cpu(self) -> dict[int, tuple[float, str]]:
        """CPU seconds and name of each thread but the main one that may run on the engine's cores."""
        out, tick = {}, os.sysconf("SC_CLK_TCK")
        for tid in map(int, os.listdir("/proc/self/task")):
            if tid == os.getpid():
                continue
            try:
                if not os.sched_getaffinity(tid) & self.cpus:
                    continue
                with open(f"/proc/self/task/{tid}/stat") as f:
                    stat = f.read()
            except OSError:  # a thread that ended meanwhile
                continue
            fields = stat.rsplit(")", 1)[1].split()
            out[tid] = ((int(fields[11]) + int(fields[12])) / tick, stat[stat.index("(") + 1:stat.rindex(")")])
        return out

    def summary(self, wall: float) -> str:
        """One line: where the row's wall time went."""
        top = ", ".join(f"{name} {sec:.1f}" for name, sec in sorted(self.by_thread.items(), key=lambda kv: -kv[1])
                        if sec >= 0.1)
        return (f"{self.calls} engine calls, {self.inside:.1f} s inside them, {wall - self.inside:.1f} s outside "
                f"(loop code and waits on cells; {1e3 * (wall - self.inside) / max(1, self.calls):.1f} ms per call); "
                f"other threads' CPU on the engine's cores {self.others:.1f} s ({top or 'none'})")


def execution_summary(seconds: list[float]) -> str:
    """The cells' own time in the executor, beyond their drawn delay (the replay's cells only sleep the draw)."""
    if not seconds:
        return "no cell executed"
    ordered = sorted(seconds)
    return (f"cells' own execution after the drawn delay: mean {1e3 * sum(ordered) / len(ordered):.0f} ms, "
            f"p90 {1e3 * ordered[int(0.9 * (len(ordered) - 1))]:.0f} ms, max {1e3 * ordered[-1]:.0f} ms")


def engine_costs(engine, running: int, tokens: int = 48) -> dict[str, float]:
    """The engine's cost model, measured: ms per decoding step (fixed and per running sequence)
    and per prefilled prompt token (each probe starts from a cold prefix cache)."""
    from vllm import SamplingParams as VSP
    from vllm.inputs import TokensPrompt

    def seconds(prompts: list[list[int]], max_tokens: int) -> float:
        engine.llm.reset_prefix_cache()
        params = [VSP(temperature=0.6, seed=i, min_tokens=max_tokens, max_tokens=max_tokens, ignore_eos=True)
                  for i in range(len(prompts))]
        start = time.perf_counter()
        engine.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
        return time.perf_counter() - start

    short = engine.encode("The number is")
    one, many = seconds([short], tokens) / tokens, seconds([short] * running, tokens) / tokens
    seq = max(0.0, (many - one) / max(1, running - 1))
    long = (engine.encode(" ".join(WORDS)) * 64)[:1024]
    prefill = max(0.0, seconds([long], 1) - one) / len(long)
    return {"step_ms": 1e3 * (one - seq), "seq_ms": 1e3 * seq, "prefill_ms": 1e3 * prefill}


def write_recording(args, workload: str, cfg: dict, costs: dict, results: dict, trajs, split: dict) -> None:
    """The continuous row's trajectories, its rollout settings, the engine's measured costs, the rows'
    wall times (for --replay) and where each row's time went (:meth:`EngineClock.summary`)."""
    from cort.io import write_json_atomic
    from cort.rollout import MODEL

    path = args.record if args.workloads.count(",") == 0 else f"{args.record}.{workload}"
    write_json_atomic(path, {
        "workload": workload, "timeout_s": args.timeout_s, "max_running": args.max_running, "costs": costs,
        "config": cfg,
        "measured": {row: wall for row, (wall, _, _) in results.items()}, "time_split": split,
        "trajectories": [{"prompt": t.prompt, "model_text": "".join(s.text for s in t.segments if s.role == MODEL)}
                         for t in trajs]})
    print(f"recorded {len(trajs)} trajectories and the engine's costs {costs} to {path}", file=sys.stderr)


def bench_engine(args, engine_cpus: set[int] | None):
    """The real engine of the rows: vLLM (it pins this process to ``--engine_cpus`` itself) or transformers
    (on the GPU when there is one; on CPU its torch threads go to ``--engine_cpus``)."""
    from cort.models import default_model_dir

    model = args.model or default_model_dir()
    if args.engine == "vllm":
        from infer.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model, max_model_len=4096, seed=0, max_num_seqs=args.max_running,
                          **({"block_size": args.block_size} if args.block_size else {}))
    from cort.cpus import bind_compute_threads
    from infer.engines.hf import HFEngine

    if engine_cpus:
        bind_compute_threads(engine_cpus)
    return HFEngine(model, batch_size=args.max_running)


def engine_label(engine) -> str:
    """``vLLM-CPU``, ``transformers-GPU``, ...: which engine ran where."""
    if hasattr(engine, "llm"):
        from vllm.platforms import current_platform

        return "vLLM-CPU" if current_platform.is_cpu() else "vLLM-GPU"
    return "transformers-GPU" if engine.device.startswith("cuda") else "transformers-CPU"


def start_cold(engine) -> None:
    """Empty the engine's prefix cache (vLLM's, or the KV the transformers engine keeps for continuations),
    so that every row starts cold."""
    if hasattr(engine, "llm"):
        engine.llm.reset_prefix_cache()
    else:
        engine.reset_prefix_cache()


def prefilled(engine) -> int | None:
    """Prompt tokens the engine computed so far, prefix-cache hits not counted (None for an engine that does not
    count them)."""
    return getattr(engine, "prefilled_tokens", None)


def floor_row(engine, lengths: list[tuple[list[int], int]]) -> tuple[float, int, int]:
    """The no-tool floor: each trajectory one request of exactly its model tokens (end of sequence
    ignored), all submitted at once; (wall seconds, tokens, 0)."""
    from cort.engine import SamplingParams

    start_cold(engine)
    if hasattr(engine, "llm"):
        from vllm import SamplingParams as VSP
        from vllm.inputs import TokensPrompt

        params = [VSP(n=1, temperature=0.6, top_p=0.95, seed=i, min_tokens=n, max_tokens=n, ignore_eos=True)
                  for i, (_, n) in enumerate(lengths)]
        wall, outs = timed(engine.llm.generate, [TokensPrompt(prompt_token_ids=p) for p, _ in lengths], params,
                           use_tqdm=False)
        return wall, sum(len(o.outputs[0].token_ids) for o in outs), 0
    eos, engine.eos_ids = engine.eos_ids, set()  # a row then ends at its token budget only
    try:
        wall, gens = timed(engine.generate, [p for p, _ in lengths],
                           [SamplingParams(0.6, 0.95, n, [], i) for i, (_, n) in enumerate(lengths)])
    finally:
        engine.eos_ids = eos
    return wall, sum(len(g.token_ids) for g in gens), 0


def engine_rows(args) -> list[tuple]:
    """The rows with a real engine (``--engine vllm`` or ``hf``) on real prompts, a real model and real
    kernels (plus drawn cell delays)."""
    from cort.chat import render_prompt
    from cort.engine import SamplingParams
    from cort.executor import ExecutorConfig, start_executor
    from cort.io import Field, read_jsonl

    # before the engine: a CPU list is checked against this process's CPUs before anything pins it
    engine_cpus = parse_cpu_list(args.engine_cpus) if args.engine_cpus else None
    engine = bench_engine(args, engine_cpus)
    problems = [row["prompt"] for _, row in read_jsonl(args.data, [Field("prompt")])][:args.problems]
    prompts = [render_prompt(engine.tokenizer, p, args.hint_mode) for p in problems for _ in range(args.n)]
    cfg = dict(max_func_call=args.max_func_call, max_tokens_per_call=args.max_tokens_per_call, max_model_len=4096,
               temperature=0.6, top_p=0.95, seed=0, func_call_timeout=args.timeout_s)
    engine.generate([engine.encode(prompts[0])], [SamplingParams(max_tokens=8)])  # warm-up
    rows = []
    for workload in args.workloads.split(","):
        results, lengths, split = {}, None, {}
        # every trajectory may hold its kernel session at once (the default capacity, 4 per core, would
        # queue the sessions of a 2-core machine behind each other: a capacity limit, not the loop's)
        # the engine keeps --engine_cpus; the kernels and the executor's threads go to --cell_cpus
        config = ExecutorConfig(timeout=args.timeout_s, preload="import sympy", cpus=args.cell_cpus,
                                max_kernels=args.max_kernels or len(prompts))
        with start_executor(config, args.executor_process or "separate") as ex:
            ex.run_program("pass")  # the kernel template is up
            time.sleep(2.0)
            for loop in LOOPS:
                interp = DrawnCellTimes(workload, args.timeout_s, executor=ex)
                start_cold(engine)
                before = prefilled(engine)
                with EngineClock(engine, engine_cpus) as clock:
                    wall, trajs = timed(run_rollouts, engine, prompts, RolloutConfig(loop=loop, **cfg),
                                        executor=interp)
                results[loop] = (wall, sum(t.model_tokens for t in trajs), sum(t.code_calls for t in trajs))
                split[loop] = f"{clock.summary(wall)}; {execution_summary(interp.executed)}"
                if before is not None:
                    split[loop] += f"; {prefilled(engine) - before} prompt tokens prefilled"
                print(f"{workload} {loop}: {wall:.1f} s, {results[loop][1]} tokens, {results[loop][2]} cells; "
                      f"{split[loop]}", file=sys.stderr, flush=True)
                if loop == "continuous":
                    lengths = [(t.prompt_ids, t.model_tokens) for t in trajs]
                    recorded, recording = interp.programs, trajs
            replay = RecordedCells(recorded, ex)
            start_cold(engine)
            before = prefilled(engine)
            with EngineClock(engine, engine_cpus) as clock:
                wall, trajs = timed(run_rollouts, engine, prompts, RolloutConfig(loop="continuous", **cfg),
                                    executor=replay)
            results["zero_cells"] = (wall, sum(t.model_tokens for t in trajs), sum(t.code_calls for t in trajs))
            split["zero_cells"] = clock.summary(wall)
            if before is not None:
                split["zero_cells"] += f"; {prefilled(engine) - before} prompt tokens prefilled"
            print(f"{workload} zero-time cells: {wall:.1f} s, {results['zero_cells'][1]} tokens, "
                  f"{replay.misses} programs not recorded; {split['zero_cells']}", file=sys.stderr, flush=True)
        results["floor"] = floor_row(engine, lengths)
        print(f"{workload} floor: {results['floor'][0]:.1f} s, {results['floor'][1]} tokens", file=sys.stderr,
              flush=True)
        if args.record:
            write_recording(args, workload, cfg, engine_costs(engine, args.max_running), results, recording, split)
        name = f"{engine_label(engine)}, {os.path.basename(os.path.normpath(args.model or 'SmolLM2-135M'))}, " \
               f"{args.problems} problems x {args.n}, {args.max_running} running, {workload} cells " \
               f"({args.timeout_s:g} s timeout band)"
        if args.cell_cpus:
            name += f", engine on CPU {args.engine_cpus}, cells on CPU {args.cell_cpus}"
        rows.append((name, results))
    return rows


def print_table(rows) -> None:
    print("\n| workload | loop | wall s | model tokens | tokens/s | code calls | vs epoch-synchronous | vs floor |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, res in rows:
        base = res["epoch"][1] / res["epoch"][0]
        floor = res["floor"][1] / res["floor"][0]
        for loop in (*LOOPS, "floor", "zero_cells"):
            if loop not in res:
                continue
            wall, tok, calls = res[loop]
            rate = tok / wall
            print(f"| {name} | {NAMES[loop]} | {wall:.1f} | {tok} | {rate:.0f} | {calls} | {rate / base:.2f}x "
                  f"| {rate / floor:.2f} |")
    print("\n(ratios compare tokens/s; 'vs floor' 1.00 means as fast as generating the same tokens with no tool;"
          " the zero-time-cells row also prefills every interpreter output and continuation, as any loop must)")


def check_args(ap: argparse.ArgumentParser, args) -> None:
    """Refuse settings the bench cannot run, before anything starts (exit 2, one line)."""
    for name in ("trajectories", "problems", "n", "max_running", "max_cells", "max_func_call", "max_tokens_per_call"):
        if getattr(args, name) < 1:
            ap.error(f"--{name}: must be at least 1, got {getattr(args, name)}")
    if args.timeout_s <= 0 or args.max_kernels < 0 or args.block_size < 0:
        ap.error("--timeout_s must be > 0, --max_kernels and --block_size >= 0")
    unknown = set(args.workloads.split(",")) - set(CELL_TIMES)
    if unknown:
        ap.error(f"--workloads: unknown {sorted(unknown)}; choose from {sorted(CELL_TIMES)}")
    if args.replay:
        if args.engine != "sim":
            ap.error(f"--replay runs on the simulator; leave out --engine {args.engine}")
        if args.draws < 1 or not 0 < args.time_scale <= 1:
            ap.error("--draws must be at least 1 and --time_scale in (0, 1]")
        try:
            read_recording(args.replay)
        except CortError as err:
            ap.error(f"--replay: {err}")
    elif args.draws != 1 or args.time_scale != 0.1 or not args.fit_floor:
        ap.error("--draws, --time_scale and --no-fit_floor go with --replay")
    if args.record:
        if args.engine != "vllm":
            ap.error("--record writes a vLLM run; it needs --engine vllm")
        from cort.io import check_output_file

        try:
            check_output_file(args.record, "--record")
        except CortError as err:
            ap.error(str(err))
    if args.block_size and args.engine != "vllm":
        ap.error("--block_size sets vLLM's KV-cache blocks; it needs --engine vllm")
    if args.executor_process and args.engine == "sim":
        ap.error("--executor_process places a real executor; it needs --engine vllm or hf")
    if bool(args.engine_cpus) != bool(args.cell_cpus):
        ap.error("--engine_cpus and --cell_cpus go together")
    if args.engine_cpus:
        if args.engine == "sim":
            ap.error("--engine_cpus/--cell_cpus place a real engine and the cells; they need --engine vllm or hf")
        try:
            engine_cpus, cell_cpus = parse_cpu_list(args.engine_cpus), parse_cpu_list(args.cell_cpus)
        except ValueError as err:
            ap.error(f"--engine_cpus/--cell_cpus: {err}")
        if engine_cpus & cell_cpus:
            ap.error("--engine_cpus and --cell_cpus must not share a core")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="sim", choices=["sim", "vllm", "hf"],
                    help="vllm / hf: the sim rows, then the same rows with that engine (vLLM, or transformers on the "
                         "GPU when there is one, else CPU)")
    ap.add_argument("--workloads", default="quick,heavy", help="cell-time distributions (CELL_TIMES), one row set each")
    ap.add_argument("--trajectories", type=int, default=SIM["trajectories"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--step_ms", type=float, default=SIM["step_ms"], help="sim: fixed cost of a decoding step")
    ap.add_argument("--seq_ms", type=float, default=SIM["seq_ms"], help="sim: cost per running sequence per step")
    ap.add_argument("--prefill_ms", type=float, default=SIM["prefill_ms"], help="sim: cost per uncached prompt token")
    ap.add_argument("--call_ms", type=float, default=SIM["call_ms"], help="sim: overhead of one generate call")
    ap.add_argument("--max_running", type=int, default=SIM["max_running"], help="sequences the engine runs at once")
    ap.add_argument("--max_cells", type=int, default=16, help="sim: cells running at once (executor capacity)")
    ap.add_argument("--timeout_s", type=float, default=SIM["timeout_s"],
                    help="cell timeout (the timeout band's duration); 1 s is ~240 sim steps at 64 running")
    ap.add_argument("--model", default="", help="vllm/hf: model folder (default: the bundled SmolLM2, converted)")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                   "test_math500.reason_step.jsonl"))
    ap.add_argument("--hint_mode", default="none")
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max_func_call", type=int, default=6)
    ap.add_argument("--max_tokens_per_call", type=int, default=256)
    ap.add_argument("--skip_sim", action="store_true")
    ap.add_argument("--engine_cpus", default="", help="vllm/hf: cores for the engine's threads, e.g. 0 (default: all)")
    ap.add_argument("--cell_cpus", default="", help="vllm/hf: cores for the kernels and the executor's threads, e.g. 1 (default: all)")
    ap.add_argument("--executor_process", default=None, choices=["separate", "inline"],
                    help="vllm/hf: the executor's client in a process of its own (separate, the default, as the "
                         "commands) or in this one (inline: how the README's tool-loop tables were measured)")
    ap.add_argument("--block_size", type=int, default=0,
                    help="vllm: KV-cache block size (default: VLLMEngine's; prefix caching reuses whole blocks only)")
    ap.add_argument("--max_kernels", type=int, default=0,
                    help="vllm/hf: live kernel sessions at once (default: one per trajectory)")
    ap.add_argument("--record", default="",
                    help="vllm: write the continuous row's trajectories, the engine's measured costs and the rows' "
                         "wall times here (JSON; with several workloads, one file each: PATH.<workload>)")
    ap.add_argument("--replay", default="",
                    help="sim: replay a --record file (its trajectories and engine costs) instead of the synthetic rows")
    ap.add_argument("--draws", type=int, default=1,
                    help="--replay: independent cell-time draws (0 is the recorded run's own)")
    ap.add_argument("--time_scale", type=float, default=0.1,
                    help="--replay: run this many times as fast as the recorded engine (reported in its seconds)")
    ap.add_argument("--fit_floor", action=argparse.BooleanOptionalAction, default=True,
                    help="--replay: scale the recorded costs by one factor so the replayed floor row (no tool) takes "
                         "the measured time; the other rows are then predictions")
    args = ap.parse_args()
    check_args(ap, args)
    if args.engine == "vllm":
        bind = args.engine_cpus or f"0-{(os.cpu_count() or 1) - 1}"
        for key, value in dict(VLLM_CPU_KVCACHE_SPACE="2", VLLM_CPU_OMP_THREADS_BIND=bind,
                               VLLM_CPU_NUM_OF_RESERVED_CPU="0", TOKENIZERS_PARALLELISM="false").items():
            os.environ.setdefault(key, value)
        if args.engine_cpus:  # the flag wins over an exported bind (VLLMEngine pins this process there)
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = args.engine_cpus
    rows = []
    if args.replay:
        from transformers import AutoTokenizer

        from cort.models import default_model_dir

        rec = read_recording(args.replay)
        rows = replay_rows(args, rec, AutoTokenizer.from_pretrained(default_model_dir()))
        print_table(rows)
        print_replay_summary(rows, rec)
        recorded = {k: rec[k] for k in ("workload", "timeout_s", "max_running", "costs", "config")}
        print(re.sub(r"\s+", " ", f"settings: replay={args.replay!r} draws={args.draws} time_scale={args.time_scale} "
                                  f"fit_floor={args.fit_floor}; recorded run: {recorded}"))
        return
    if not args.skip_sim:
        from transformers import AutoTokenizer

        from cort.models import default_model_dir

        rows += sim_rows(args, AutoTokenizer.from_pretrained(default_model_dir()))
        print_table(rows)
    if args.engine != "sim":
        rows += engine_rows(args)
        print_table(rows)
    print(re.sub(r"\s+", " ", f"settings: {vars(args)}"))


if __name__ == "__main__":
    main()
