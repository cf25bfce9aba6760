"""Which order of continuations would close the continuous loop's gap to the floor: a study of recorded runs.

The continuous loop (``cort.rollout``, ``loop="continuous"``) keeps the requests that do not fit the
engine's running batch and chooses who goes next: trajectories not yet started first (while fewer
than ``8 x`` the batch are under way), then continuations in the order their cells returned. On a
vLLM run written by ``bench/loop_bench.py --record``, this study replays that admission in virtual
time (no sleeps: a draw takes seconds) under the recording's cost model, the one
:class:`cort.replay.ReplayEngine` sleeps (a decoding step costs ``step_ms + seq_ms x running``, each
uncached token ``prefill_ms``), and changes only the order of continuations:

- ``arrival``: the loop's order, the order the cells returned;
- orders the loop could use, knowing only the past: ``most_rounds`` (the trajectory with the most
  rounds done first), ``fewest_rounds``, ``oldest`` (the first started first), ``continuations_first``
  (continuations before trajectories not yet started), ``sibling_lag`` (the trajectory furthest behind
  the most advanced sample of its own prompt first: siblings write nearly the same number of cells, so a
  sibling's progress is a lower bound on the laggard's remaining rounds; the simulator has no siblings);
- oracles, knowing the future: ``oracle_cells`` (most cells still to run first) and ``oracle_work``
  (most work still to do first: its remaining tokens decoded at a full batch plus its remaining cell time).

Each ratio is the zero-time-cells floor's wall time (the same trajectories, cells returning at once,
the loop's order) over the order's wall time: 1.00 is the floor, the issue's goal is >= 0.91. The
trajectories and their rounds come from running the real loop on the recording's text (as
``--replay`` does); the cell times are the bench's draws (draw 0 is the recorded run's own). The
first table line, ``arrival`` on draw 0 in the recording's seconds, is checked against the measured
continuous row. ``--sim_seeds`` adds a column for the simulator's own heavy workload (``loop_bench.py``'s
synthetic scripts for those seeds, its default costs, 64 running), a workload none of the orders was chosen on.

    python bench/order_study.py outputs/loop_bench_q8/recording_30s.json outputs/loop_bench_q8s1/recording_30s.json \
        --draws 4 --sim_seeds 0,1,2,3
"""

from __future__ import annotations

import argparse
import heapq
import os
import statistics
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from loop_bench import (
    SIM,
    DrawnCellTimes,
    cell_seconds,
    read_recording,
    recording_scripts,
    sim_rollout_config,
    sim_scripts,
)

from cort.cli import run_command
from cort.errors import InputError, UsageError
from cort.rollout import _FRESH_WINDOW, MODEL, RolloutConfig, run_rollouts


@dataclass(frozen=True)
class Round:
    """One request of a trajectory: tokens to prefill, tokens to decode, then its cell's seconds (None: the last)."""

    prefill: int
    decode: int
    cell: float | None


@dataclass(frozen=True)
class Costs:
    """Seconds of the engine's cost model."""

    step: float
    per_sequence: float
    per_prefill_token: float


class _DrawRecorder(DrawnCellTimes):
    """Drawn cell times that return at once, remembering each result's drawn seconds."""

    def __init__(self, workload: str, timeout: float, draw: int):
        super().__init__(workload, timeout, max_cells=1 << 16, draw=draw, time_scale=0.0)
        self.drawn: dict[int, float] = {}

    def _cell(self, key: str, run):
        result = super()._cell(key, run)
        self.drawn[id(result)] = cell_seconds(key, self.workload, self.timeout, self.draw)
        return result


def recorded_rounds(rec: dict, tokenizer, draw: int) -> list[list[Round]]:
    """Each recorded trajectory's requests, as the real loop makes them, with draw ``draw``'s cell times.

    A round whose text runs no program (the original's empty output block) has a cell of 0 s; model
    pieces with no interpreter output between them (a false stop, an empty cell) count as one request.
    ``done`` below counts a trajectory's interpreter outputs so far (its rounds with a cell).
    """
    from cort.replay import ReplayEngine

    scripts = recording_scripts(rec)
    cells = _DrawRecorder(rec["workload"], rec["timeout_s"], draw)
    seconds: dict[tuple[int, int], float] = {}  # (trajectory, index of its interpreter segment) -> drawn seconds

    def on_cell(traj, code, result) -> None:
        seconds[traj.index, len(traj.segments)] = cells.drawn.pop(id(result), 0.0)  # 0: the loop's own failure result

    config = RolloutConfig(**{**rec["config"], "loop": "continuous"})
    trajs = run_rollouts(ReplayEngine(tokenizer, scripts), list(scripts), config, executor=cells, on_cell=on_cell)
    out = []
    for traj in trajs:
        rounds, prefill, decode = [], len(traj.prompt_ids), 0
        for k, seg in enumerate(traj.segments):
            if seg.role == MODEL:
                decode += max(1, len(seg.token_ids))
                continue
            rounds.append(Round(prefill, decode, seconds.get((traj.index, k), 0.0)))
            prefill, decode = len(seg.token_ids), 0
        rounds.append(Round(prefill, max(1, decode), None))
        out.append(rounds)
    return out


@dataclass(frozen=True)
class Order:
    """Which waiting continuation goes next: ``key`` larger first (None: as the cells returned); trajectories
    not yet started go before continuations (within the loop's window) unless ``continuations_first``."""

    knows_future: bool
    key: Callable | None = None
    continuations_first: bool = False


ORDERS: dict[str, Order] = {
    "arrival": Order(False),
    "most_rounds": Order(False, lambda s, i: s.done[i]),
    "fewest_rounds": Order(False, lambda s, i: -s.done[i]),
    "oldest": Order(False, lambda s, i: -s.start[i]),
    "continuations_first": Order(False, continuations_first=True),
    "sibling_lag": Order(False, lambda s, i: max(s.done[j] for j in s.peers[i]) - s.done[i]),
    "oracle_cells": Order(True, lambda s, i: sum(r.cell is not None for r in s.rounds[i][s.done[i]:])),
    "oracle_work": Order(True, lambda s, i: sum(r.decode * s.full_step + (r.cell or 0.0)
                                                for r in s.rounds[i][s.done[i]:])),
}


@dataclass
class _State:
    """What an order may look at: each trajectory's rounds, rounds done, start rank and the samples of
    its prompt (``peers``, itself included)."""

    rounds: list[list[Round]]
    done: list[int]
    start: list[int]
    full_step: float
    peers: list[list[int]]


def simulate(rounds: list[list[Round]], costs: Costs, capacity: int, order: str = "arrival",
             zero_cells: bool = False, prompts: list[str] | None = None) -> tuple[float, int]:
    """Wall seconds and decoding steps of the continuous loop's admission in virtual time.

    At most ``capacity`` requests in the engine; every cell runs as soon as its request ends
    (the executor is not the bottleneck); ``zero_cells``: every cell returns at once; ``prompts``:
    each trajectory's prompt (trajectories of one prompt are siblings; None: no siblings).
    """
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}")
    policy = ORDERS[order]
    key = policy.key
    n = len(rounds)
    keys = prompts if prompts is not None else [str(i) for i in range(n)]
    groups: dict[str, list[int]] = {}
    for i, prompt in enumerate(keys):
        groups.setdefault(prompt, []).append(i)
    peers = [groups[p] for p in keys]
    state = _State(rounds, [0] * n, [n] * n, costs.step + costs.per_sequence * capacity, peers)
    fresh, resumed, inflight = deque(range(n)), [], {}
    cells: list[tuple[float, int, int]] = []  # (returns at, tie-break, trajectory)
    window, started, finished, now, steps, tick = _FRESH_WINDOW * capacity, 0, 0, 0.0, 0, 0

    def next_up() -> int:
        nonlocal started
        if policy.continuations_first:
            take_fresh = not resumed
        else:
            take_fresh = fresh and (not resumed or started - finished < window)
        if take_fresh:
            i = fresh.popleft()
            state.start[i] = started
            started += 1
            return i
        j = 0 if key is None else max(range(len(resumed)), key=lambda k: (key(state, resumed[k]), -k))
        return resumed.pop(j)

    while fresh or resumed or inflight or cells:
        while (fresh or resumed) and len(inflight) < capacity:
            i = next_up()
            r = rounds[i][state.done[i]]
            now += costs.per_prefill_token * r.prefill
            inflight[i] = r.decode
        if inflight:
            now += costs.step + costs.per_sequence * len(inflight)
            steps += 1
            for i in [i for i in inflight if inflight[i] == 1]:
                del inflight[i]
                cell = rounds[i][state.done[i]].cell
                if cell is None:
                    finished += 1
                else:
                    heapq.heappush(cells, (now + (0.0 if zero_cells else cell), tick, i))
                    tick += 1
            for i in inflight:
                inflight[i] -= 1
        elif cells:
            now = max(now, cells[0][0])
        while cells and cells[0][0] <= now:
            i = heapq.heappop(cells)[2]
            state.done[i] += 1
            resumed.append(i)
    return now, steps


def no_tool_floor(rounds: list[list[Round]], costs: Costs, capacity: int) -> float:
    """Wall seconds of every trajectory's tokens as one request (no cells, no waiting), in order."""
    merged = [[Round(r[0].prefill, sum(x.decode for x in r), None)] for r in rounds]
    return simulate(merged, costs, capacity)[0]


def sim_recording(seed: int) -> dict:
    """The simulator's heavy workload (``loop_bench.py --seed seed``) shaped as a recording with no measured rows."""
    scripts = sim_scripts(SIM["trajectories"], seed)
    return dict(workload="heavy", timeout_s=SIM["timeout_s"], max_running=SIM["max_running"],
                costs={k: SIM[k] for k in ("step_ms", "seq_ms", "prefill_ms")},
                config=sim_rollout_config(SIM["timeout_s"]), measured={},
                trajectories=[dict(prompt=k, model_text=v) for k, v in scripts.items()])


def _ratios(rec: dict, tokenizer, draws: int, checks: list[str], label: str) -> dict[str, list[float]]:
    """Each order's zero-time-cells floor / wall over ``draws`` draws; draw 0's check line goes to ``checks``."""
    c, capacity, measured = rec["costs"], rec["max_running"], rec["measured"]
    costs = Costs(c["step_ms"] / 1e3, c["seq_ms"] / 1e3, c["prefill_ms"] / 1e3)
    out: dict[str, list[float]] = {name: [] for name in ORDERS}
    prompts = [t["prompt"] for t in rec["trajectories"]]  # samples of one prompt are siblings
    for draw in range(draws):
        rounds = recorded_rounds(rec, tokenizer, draw)
        if draw == 0 and measured.get("floor"):  # one factor on every cost, as --replay --fit_floor
            fit = measured["floor"] / no_tool_floor(rounds, costs, capacity)
            costs = Costs(costs.step * fit, costs.per_sequence * fit, costs.per_prefill_token * fit)
        floor = simulate(rounds, costs, capacity, zero_cells=True)[0]
        for name in ORDERS:
            wall = simulate(rounds, costs, capacity, name, prompts=prompts)[0]
            out[name].append(floor / wall)
            if draw == 0 and name == "arrival" and measured.get("continuous"):
                checks.append(f"| {label} | {floor:.1f} | {measured.get('zero_cells', float('nan')):.1f} "
                              f"| {wall:.1f} | {measured['continuous']:.1f} |")
    return out


def _read_checked(path: str) -> dict:
    """A recording whose engine costs something per decoding step (else every schedule takes no time)."""
    rec = read_recording(path)
    if not (rec["costs"]["step_ms"] > 0 or rec["costs"]["seq_ms"] > 0):
        raise InputError(path, "step_ms and seq_ms are both 0: decoding costs nothing, no schedule to compare",
                         field="costs")
    return rec


def study(paths: list[str], draws: int, sim_seeds: list[int] | None = None) -> str:
    """The markdown report: the check against each recording's measured rows, then each order's ratios
    per recording and over the simulator's script seeds ``sim_seeds`` (one column)."""
    from transformers import AutoTokenizer

    from cort.models import default_model_dir

    recordings = [_read_checked(path) for path in paths]  # every file checked before any work
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir())
    columns: list[tuple[str, dict[str, list[float]]]] = []
    checks: list[str] = []
    for path, rec in zip(paths, recordings):
        columns.append((os.path.basename(os.path.dirname(os.path.abspath(path))),
                        _ratios(rec, tokenizer, draws, checks, path)))
    if sim_seeds:
        pooled: dict[str, list[float]] = {name: [] for name in ORDERS}
        for seed in sim_seeds:
            for name, values in _ratios(sim_recording(seed), tokenizer, draws, checks, "").items():
                pooled[name] += values
        columns.append((f"simulator, heavy, seeds {','.join(map(str, sim_seeds))}", pooled))
    lines = []
    if checks:
        lines += ["| recording | zero-time-cells floor, virtual s | measured s | continuous (arrival), virtual s "
                  "| measured s |", "|---|---:|---:|---:|---:|", *checks, ""]
    lines += ["| continuation order | knows the future |" + "".join(f" {label}: mean | min | max |"
                                                             for label, _ in columns),
              "|---|---|" + "---:|---:|---:|" * len(columns)]
    for name, policy in ORDERS.items():
        cols = "".join(f" {statistics.fmean(r[name]):.3f} | {min(r[name]):.3f} | {max(r[name]):.3f} |"
                       for _, r in columns)
        lines.append(f"| {name} | {'yes' if policy.knows_future else 'no'} |{cols}")
    lines.append(f"\n(zero-time-cells floor / wall over {draws} cell-time draw(s) per recording or seed; "
                 "1.00 is the floor)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, print the report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recordings", nargs="*", help="files written by bench/loop_bench.py --record")
    ap.add_argument("--draws", type=int, default=4, help="cell-time draws per recording (0 is the recorded run's own)")
    ap.add_argument("--sim_seeds", default="",
                    help="also the simulator's heavy workload for these script seeds, e.g. 0,1,2,3 (one column)")
    args = ap.parse_args(argv)
    if args.draws < 1:
        raise UsageError("draws", "must be at least 1")
    try:
        seeds = [int(x) for x in args.sim_seeds.split(",")] if args.sim_seeds else []
    except ValueError:
        raise UsageError("sim_seeds", f"must be comma-separated integers, got {args.sim_seeds!r}") from None
    if not args.recordings and not seeds:
        raise UsageError("", "give recordings (bench/loop_bench.py --record files), --sim_seeds, or both")
    print(study(args.recordings, args.draws, seeds))
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
