"""The multi-turn tool loop: generate until a code cell closes, run it, append the output, repeat.

Every consumer (the inference CLI, RFT sampling, GRPO rollouts) calls :func:`run_rollouts`;
it is the only copy of this logic. Behaviour follows the original CoRT CLI: rounds, stop
strings, the budget warning at the second-to-last call, no stop strings in the last round.

``interpreter_mode="original"`` (the default) also gives the model the original's observations:
every generate call is a round; a round whose text ends with the first stop string runs a
program rebuilt from the whole trajectory by the original's rules (:mod:`cort.original`) in a
fresh namespace, or, when the round wrote no ```` ```python ```` block, appends an empty output
block; the observation is what the program printed, or its full traceback.

``interpreter_mode="kernel"`` runs only the new cell, in the trajectory's own live kernel
(stdout, stderr and displayed values; a short traceback), and a stop that does not close a
real cell (an inline backtick at a line end, a fence inside a string literal) continues the
same round instead of using up a call.

Scheduling (``loop``) changes when work happens, never what a trajectory contains (each
generate call has its own seed, from the trajectory's index and position):

- ``continuous`` (default): with a streaming engine (:class:`cort.engine.StreamingEngine`: vLLM,
  the transformers engine, the replay engine) every trajectory is its own engine request; when
  one stops at a cell, the cell runs while every other request keeps generating, and its
  continuation is submitted the moment the cell returns. An engine that only generates in
  batches falls back to ``batch``.
- ``batch``: ready trajectories are generated together in one ``generate`` call; cells that
  finish during it join the next call.
- ``epoch``: the original's epoch-synchronous rounds: all generate, then all cells run, and
  the round waits for the slowest.

At most ``executor.config.max_kernels`` cells run at once (back-pressure); the others queue,
and no generation waits on that queue. The record is token-exact: model tokens are the
engine's own ids, interpreter tokens are marked, so trainers can mask them without
re-tokenising.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from cort import original, protocol
from cort.cpus import pin_thread
from cort.engine import Engine, Generation, SamplingParams, streams
from cort.executor import ExecutionResult, ExecutorProcess, JupyterExecutor

logger = logging.getLogger(__name__)
MODEL, INTERPRETER = "model", "interpreter"
INTERPRETER_MODES = ("original", "kernel")
LOOP_MODES = ("continuous", "batch", "epoch")


@dataclass
class RolloutConfig:
    """Budgets and sampling of the loop (names and defaults of the original CLI)."""

    max_func_call: int = 15
    max_tokens_per_call: int = 32768
    max_model_len: int = 32768
    stop_tokens_mode: str = "normal_code_block_end"
    func_call_mode: str = "jupyter"
    func_call_timeout: float = 30.0
    interpreter_mode: str = "original"
    temperature: float = 0.6
    top_p: float = 0.95
    seed: int | None = None
    max_false_stops: int = 32
    max_batch: int = 0  # trajectories per generate call, or requests in the engine (continuous); 0: no cap
    loop: str = "continuous"  # scheduling: continuous, batch or epoch (see the module docstring)
    gather_window: float = 0.1  # batch: seconds to wait for quick cells before generating without them

    def __post_init__(self) -> None:
        if self.interpreter_mode not in INTERPRETER_MODES:
            raise ValueError(f"interpreter_mode must be one of {INTERPRETER_MODES}, got {self.interpreter_mode!r}")
        if self.loop not in LOOP_MODES:
            raise ValueError(f"loop must be one of {LOOP_MODES}, got {self.loop!r}")

    @property
    def stop(self) -> list[str]:
        """Stop strings of ``stop_tokens_mode``."""
        return protocol.stop_sequences(self.stop_tokens_mode)

    @property
    def live_session(self) -> bool:
        """True when a trajectory's cells share one live kernel (kernel mode, ``func_call_mode`` jupyter)."""
        return self.interpreter_mode == "kernel" and self.func_call_mode == "jupyter"


@dataclass
class Segment:
    """A span of the completion written by the model or by the interpreter."""

    role: str
    text: str
    token_ids: list[int]
    logprobs: list[float] | None = None


@dataclass
class Trajectory:
    """One sampled solution: the prompt, its completion as segments, and its counters."""

    index: int
    prompt: str
    prompt_ids: list[int]
    segments: list[Segment] = field(default_factory=list)
    rounds: int = 0
    code_calls: int = 0
    code_errors: int = 0
    code_timeouts: int = 0
    infra_errors: int = 0
    false_stops: int = 0
    cumulative_logprob: float = 0.0
    finish_reason: str = ""
    round_tokens: int = 0

    @property
    def text(self) -> str:
        """The completion (everything after the prompt)."""
        return "".join(s.text for s in self.segments)

    @property
    def completion_ids(self) -> list[int]:
        """Token ids of the completion, model and interpreter spans in order."""
        return [t for s in self.segments for t in s.token_ids]

    @property
    def model_mask(self) -> list[int]:
        """1 for each model-written completion token, 0 for interpreter tokens."""
        return [int(s.role == MODEL) for s in self.segments for _ in s.token_ids]

    @property
    def context_ids(self) -> list[int]:
        """Prompt and completion ids: what the engine continues."""
        return self.prompt_ids + self.completion_ids

    @property
    def model_tokens(self) -> int:
        """Tokens the model generated (the original's ``cumulative_seq_len``)."""
        return sum(len(s.token_ids) for s in self.segments if s.role == MODEL)



def _next_params(traj: Trajectory, cfg: RolloutConfig) -> SamplingParams | None:
    """Sampling for the next generate call of ``traj``; None when no token budget is left."""
    budget = min(cfg.max_tokens_per_call - traj.round_tokens, cfg.max_model_len - len(traj.context_ids))
    if budget <= 0:
        return None
    stop = cfg.stop if traj.rounds < cfg.max_func_call - 1 else []
    seed = None if cfg.seed is None else cfg.seed + 1_000_003 * traj.index + 7919 * len(traj.segments)
    top_p = 1.0 if cfg.temperature == 0 else cfg.top_p
    return SamplingParams(cfg.temperature, top_p, budget, stop, seed)


class _Loop:
    """State of one :func:`run_rollouts` call."""

    def __init__(self, engine: Engine, cfg: RolloutConfig, executor: JupyterExecutor | ExecutorProcess,
                 on_finish: Callable[[Trajectory], None] | None, bar: tqdm | None,
                 on_cell: Callable[[Trajectory, str, ExecutionResult], None] | None = None):
        self.engine, self.cfg, self.executor = engine, cfg, executor
        self.on_finish, self.bar, self.on_cell = on_finish, bar, on_cell
        self.running: dict[cf.Future, tuple[Trajectory, int, str]] = {}
        # A jupyter session holds a kernel from its first cell to the trajectory's end; trajectories
        # beyond the pool's capacity wait here (not in a worker thread) so holders never starve.
        self.slots = executor.config.max_kernels
        self.active: set[int] = set()
        self.parked: deque[tuple[Trajectory, int, str]] = deque()
        self.completed: queue.SimpleQueue[cf.Future] = queue.SimpleQueue()  # finished cells, as they finish
        self.threads: cf.ThreadPoolExecutor | None = None
        self.finished = 0  # trajectories ended so far

    def finish(self, traj: Trajectory, reason: str) -> None:
        traj.finish_reason = reason
        self.finished += 1
        if traj.index in self.active:
            self.active.discard(traj.index)
            try:
                self.executor.close(f"traj-{id(self)}-{traj.index}")
            except Exception as err:  # noqa: BLE001 - a session that fails to close must not end the run
                logger.warning("trajectory %d: closing its interpreter failed: %s", traj.index, err)
            while self.parked and len(self.active) < self.slots:
                self.submit(*self.parked.popleft())
        if self.bar is not None:
            self.bar.update(1)
        if self.on_finish is not None:
            self.on_finish(traj)

    def submit(self, traj: Trajectory, round_index: int, code: str) -> None:
        """Run ``code`` in a worker thread, or park it until a kernel is free for a new session."""
        if self.cfg.live_session and traj.index not in self.active:
            if len(self.active) >= self.slots:
                self.parked.append((traj, round_index, code))
                return
            self.active.add(traj.index)
        future = self.threads.submit(self.execute, traj, code)
        self.running[future] = (traj, round_index, code)
        future.add_done_callback(self.completed.put)

    def absorb(self, traj: Trajectory, gen: Generation) -> bool:
        """Add a generation to ``traj``; True when it should generate again right away."""
        traj.segments.append(Segment(MODEL, gen.text, list(gen.token_ids), gen.logprobs))
        traj.cumulative_logprob += gen.cumulative_logprob or 0.0
        traj.round_tokens += len(gen.token_ids)
        if self.cfg.interpreter_mode == "original":
            return self.absorb_original(traj, gen)
        if gen.finish_reason != "stop" or gen.stop_reason is None:
            self.finish(traj, gen.finish_reason)
            return False
        cell = protocol.closing_cell(traj.prompt + traj.text)  # the prompt may pre-fill the assistant turn
        if cell is None:
            traj.false_stops += 1
            if traj.false_stops > self.cfg.max_false_stops:
                self.finish(traj, "false_stops")
                return False
            return True
        code = cell.code
        round_index = traj.rounds
        traj.rounds += 1
        traj.round_tokens = 0
        if not code.strip():
            return True  # an empty cell adds nothing but uses its round
        self.submit(traj, round_index, code)
        return False

    def absorb_original(self, traj: Trajectory, gen: Generation) -> bool:
        """The original's round: the text must end with the first stop string to call the interpreter.

        Every generate call is a round. A round that wrote a ```` ```python ```` block runs the
        program rebuilt from the whole trajectory; one that did not gets an empty output block.
        """
        round_index = traj.rounds
        traj.rounds += 1
        traj.round_tokens = 0
        if not gen.text.endswith(self.cfg.stop[0]):
            self.finish(traj, gen.finish_reason)
            return False
        if protocol.CODE_START not in gen.text:
            return self.append_output(traj, round_index, ExecutionResult(), counted=False)
        text = traj.prompt + traj.text  # the prompt's own blocks count, as in the original
        program = (original.jupyter_like_program(text) if self.cfg.func_call_mode == "jupyter"
                   else original.last_program(text))
        if not program:
            return self.append_output(traj, round_index, ExecutionResult(), counted=False)
        self.submit(traj, round_index, program)
        return False

    def execute(self, traj: Trajectory, code: str) -> ExecutionResult:
        """Run one cell; any failure of the machinery becomes an infrastructure result, never an exception."""
        timeout = self.cfg.func_call_timeout
        try:
            if self.cfg.interpreter_mode == "original":
                return self.executor.run_program(code, timeout)
            if self.cfg.func_call_mode == "jupyter":
                return self.executor.run(f"traj-{id(self)}-{traj.index}", code, timeout)
            return self.executor.run_stateless(code, timeout)
        except Exception as err:  # noqa: BLE001 - recorded on the trajectory, the run goes on
            logger.warning("trajectory %d: executor failure: %s: %s", traj.index, type(err).__name__, err)
            return ExecutionResult.infrastructure_failure(f"{type(err).__name__}: {err}")

    def append_output(self, traj: Trajectory, round_index: int, result: ExecutionResult,
                      counted: bool = True) -> bool:
        """Append the interpreter's answer; True when ``traj`` goes on generating.

        An infrastructure failure ends the trajectory (finish reason ``infra_error``): its next
        observation would be made up, so it is counted apart and kept out of training.
        ``counted=False``: an empty block for a round that ran no code (original mode).
        """
        if result.infrastructure:
            traj.infra_errors += 1
            self.finish(traj, "infra_error")
            return False
        if counted:
            traj.code_calls += 1
            traj.code_errors += int(not result.ok)
            traj.code_timeouts += int(result.timed_out)
        warn = round_index == self.cfg.max_func_call - 2
        out = protocol.format_output(result.model_text(), warn_budget=warn)
        ids = self.engine.encode(out)
        if len(traj.context_ids) + len(ids) >= self.cfg.max_model_len:
            self.finish(traj, "length")
            return False
        traj.segments.append(Segment(INTERPRETER, out, ids, None))
        if traj.rounds >= self.cfg.max_func_call:  # original mode: the last round happened to end at a stop
            self.finish(traj, "max_func_call")
            return False
        return True

    def harvest_all(self) -> list[Trajectory]:
        """Wait for every running cell (epoch-synchronous mode)."""
        ready = []
        while self.running:
            ready += self.harvest(timeout=None)
        return ready

    def harvest_window(self, has_ready: bool) -> list[Trajectory]:
        """Overlap mode: wait for one cell if nothing is ready, then up to ``gather_window`` for more.

        Quick cells join the next generate call; only slow ones are left behind, so a
        batched engine is not called again and again for a few trajectories.
        """
        ready = [] if has_ready else self.harvest(timeout=None)
        deadline = time.monotonic() + self.cfg.gather_window
        while self.running and (remaining := deadline - time.monotonic()) > 0:
            ready += self.harvest(timeout=remaining)
        return ready + self.harvest(timeout=0)

    def harvest(self, timeout: float | None) -> list[Trajectory]:
        """Trajectories whose cells finished (``timeout=None``: wait for at least one)."""
        if not self.running:
            return []
        try:
            done = [self.completed.get(timeout=timeout) if timeout != 0 else self.completed.get_nowait()]
        except queue.Empty:
            return []
        while True:
            try:
                done.append(self.completed.get_nowait())
            except queue.Empty:
                break
        ready = []
        for future in done:
            traj, round_index, code = self.running.pop(future)
            result = future.result()
            if self.on_cell is not None:
                self.on_cell(traj, code, result)
            if self.append_output(traj, round_index, result):
                ready.append(traj)
        return ready


def run_rollouts(
    engine: Engine,
    prompts: list[str],
    config: RolloutConfig | None = None,
    executor: JupyterExecutor | ExecutorProcess | None = None,
    on_finish: Callable[[Trajectory], None] | None = None,
    progress: bool = False,
    prompt_ids: list[list[int]] | None = None,
    on_cell: Callable[[Trajectory, str, ExecutionResult], None] | None = None,
) -> list[Trajectory]:
    """Run the tool loop for every prompt (already chat-templated) and return the trajectories.

    ``on_finish`` is called (in the calling thread) as each trajectory ends, so callers can
    write results incrementally; ``on_cell(trajectory, code, result)`` after each executed cell.
    An executor is created (and shut down) when none is given.
    """
    cfg = config or RolloutConfig()
    own = executor is None
    executor = executor or JupyterExecutor(timeout=cfg.func_call_timeout)
    ids = prompt_ids if prompt_ids is not None else [engine.encode(p) for p in prompts]
    trajs = [Trajectory(i, p, list(pi)) for i, (p, pi) in enumerate(zip(prompts, ids))]
    bar = tqdm(total=len(trajs), desc="trajectories", unit="traj") if progress else None
    loop = _Loop(engine, cfg, executor, on_finish, bar, on_cell)
    mode = cfg.loop
    if mode == "continuous" and not streams(engine):
        logger.debug("%s cannot stream requests; the loop generates in batches", type(engine).__name__)
        mode = "batch"
    try:
        # the cells' threads (their messages to the kernels) go where the executor places its kernels
        with cf.ThreadPoolExecutor(max_workers=executor.config.max_kernels, initializer=pin_thread,
                                   initargs=(getattr(executor.config, "cpu_set", None),)) as threads:
            loop.threads = threads
            if mode == "continuous":
                _run_continuous(loop, engine, trajs)
            else:
                _run_batched(loop, engine, trajs, overlap=mode == "batch")
    finally:
        if bar is not None:
            bar.close()
        if own:
            executor.shutdown()
    return trajs


def _run_batched(loop: _Loop, engine: Engine, trajs: list[Trajectory], overlap: bool) -> None:
    """``batch`` and ``epoch`` scheduling: one ``generate`` call for the ready trajectories at a time."""
    cfg = loop.cfg
    ready = list(trajs)
    while ready or loop.running or loop.parked:
        ready += loop.harvest_window(bool(ready)) if overlap else loop.harvest_all()
        cut = cfg.max_batch or len(ready)
        batch, ready, params = ready[:cut], ready[cut:], []
        for traj in batch:
            p = _next_params(traj, cfg)
            if p is None:
                loop.finish(traj, "length")
            else:
                params.append((traj, p))
        if not params:
            continue
        gens = engine.generate([t.context_ids for t, _ in params], [p for _, p in params])
        for (traj, _), gen in zip(params, gens):
            if loop.absorb(traj, gen):
                ready.append(traj)


# trajectories not yet started go first while fewer than this many times the running batch are under way
_FRESH_WINDOW = 8


def _run_continuous(loop: _Loop, engine, trajs: list[Trajectory]) -> None:
    """``continuous`` scheduling: every trajectory is its own request of a streaming engine.

    Between two engine steps, finished cells are collected without waiting and their
    continuations submitted; the loop blocks only when no request is in the engine and every
    remaining trajectory waits on a cell. Trajectories not yet started go first while fewer than
    ``8 x`` the engine's running batch are under way: a trajectory's slow cell then overlaps the
    others' generation instead of turning up at the end with nothing left to overlap (continuations
    first made the last-started trajectories' cells the run's tail); beyond that window,
    continuations go first, so memory and kernel sessions stay bounded on long runs.
    """
    cfg = loop.cfg
    fresh: deque[Trajectory] = deque(trajs)
    resumed: deque[Trajectory] = deque()
    inflight: dict[str, Trajectory] = {}
    # Requests beyond the engine's running batch would only queue inside it; holding them here lets the
    # loop choose who goes next.
    capacity = cfg.max_batch or getattr(engine, "max_running", 0) or len(trajs)
    window = _FRESH_WINDOW * capacity
    started = 0  # trajectories taken from ``fresh``
    try:
        while fresh or resumed or inflight or loop.running or loop.parked:
            while (fresh or resumed) and len(inflight) < capacity:
                if fresh and (not resumed or started - loop.finished < window):
                    traj = fresh.popleft()
                    started += 1
                else:
                    traj = resumed.popleft()
                p = _next_params(traj, cfg)
                if p is None:
                    loop.finish(traj, "length")
                    continue
                request_id = f"cort-{id(loop)}-{traj.index}-{len(traj.segments)}"
                engine.add_request(request_id, traj.context_ids, p)
                inflight[request_id] = traj
            if inflight:
                for request_id, gen in engine.step():
                    traj = inflight.pop(request_id)
                    if loop.absorb(traj, gen):
                        resumed.append(traj)
                resumed.extend(loop.harvest(timeout=0))
            else:
                resumed.extend(loop.harvest(timeout=None))
    finally:
        if inflight:  # interrupted: leave no request running in a shared engine
            engine.abort(list(inflight))

