"""Command-line settings shared by every command that runs the tool loop, validated once.

Each group is a dataclass that ``HfArgumentParser`` / ``TrlParser`` turns into flags, with the
original CoRT CLI's names and defaults:

- :class:`ToolArguments`: the tool loop's budgets and interpreter (``--max_func_call`` ...);
- :class:`SamplingArguments`: ``--temperature --top_p --seed`` (TRL's GRPO has its own, same names);
- :class:`EngineArguments`: which engine runs which model (``--engine --model_name_or_path`` ...).

A bad value raises :class:`~cort.errors.UsageError` while the flags are parsed, before any
command reads input or touches output. :func:`rollout_config` turns the groups into the loop's
:class:`~cort.rollout.RolloutConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from cort import protocol
from cort.cpus import parse_cpu_list
from cort.errors import UsageError
from cort.executor.config import SANDBOX_MODES, ExecutorConfig
from cort.executor.remote import EXECUTOR_PROCESS_MODES, start_executor
from cort.rollout import INTERPRETER_MODES, LOOP_MODES, RolloutConfig

ENGINES = ("vllm", "hf")
FUNC_CALL_MODES = ("jupyter", "python")

MAX_FUNC_CALL_HELP = (
    "generate rounds per trajectory (the original's meaning): every round but the last may stop at a code "
    "cell, so at most max_func_call - 1 cells run; the budget warning follows the output of round "
    "max_func_call - 1")


def require(flag: str, ok: bool, message: str) -> None:
    """Raise :class:`UsageError` for ``--flag`` unless ``ok``."""
    if not ok:
        raise UsageError(flag, message)


def require_positive(obj, *names: str) -> None:
    """Every named attribute of ``obj`` must be > 0."""
    for name in names:
        require(name, getattr(obj, name) > 0, f"must be greater than 0, got {getattr(obj, name)}")


def require_choice(obj, name: str, choices: tuple[str, ...]) -> None:
    """Attribute ``name`` of ``obj`` must be one of ``choices``."""
    value = getattr(obj, name)
    require(name, value in choices, f"must be one of {', '.join(choices)}, got {value!r}")


@dataclass
class ToolArguments:
    """Budgets of the multi-turn tool loop and the interpreter it calls."""

    max_func_call: int = field(default=10, metadata={"help": MAX_FUNC_CALL_HELP})
    max_tokens_per_call: int = field(default=32768, metadata={"help": "new tokens per generate round"})
    max_model_len: int = field(default=130000, metadata={
        "help": "prompt + completion tokens; a trajectory that reaches it ends (finish reason 'length')"})
    stop_tokens_mode: str = field(default="normal_code_block_end", metadata={
        "help": "stop strings that end a round", "choices": list(protocol.STOP_TOKENS_MODES)})
    func_call_mode: str = field(default="jupyter", metadata={
        "help": "jupyter: a trajectory's cells share one interpreter; python: every cell starts fresh",
        "choices": list(FUNC_CALL_MODES)})
    func_call_timeout: float = field(default=30, metadata={"help": "seconds one cell may run"})
    interpreter_mode: str = field(default="original", metadata={
        "help": "original: at each stop, run the program the original rebuilds from the trajectory (earlier cells "
                "without prints or errors, then the new one) in a fresh namespace and show what it printed or its "
                "full traceback, as CoRT models were trained; kernel: run only the new cell in the trajectory's own "
                "live Jupyter kernel (stdout, stderr, displayed values, short tracebacks)",
        "choices": list(INTERPRETER_MODES)})
    loop: str = field(default="continuous", metadata={
        "help": "scheduling only (trajectories are the same): continuous: each trajectory is its own engine request "
                "and resumes the moment its cell returns (vllm and hf); batch: ready trajectories "
                "generate together; epoch: the original's rounds (all generate, then all cells run)",
        "choices": list(LOOP_MODES)})
    sandbox: str = field(default="on", metadata={
        "help": "on: each trajectory's interpreter is confined (writes only in its scratch folder, no network, "
                "no signals out, process cap, scrubbed environment; what the machine cannot do is logged once); "
                "off: not confined", "choices": list(SANDBOX_MODES)})
    executor_cpus: str = field(default="", metadata={
        "help": "CPU list (1, 2-7) for the interpreter's kernels and threads, away from the cores an engine computes "
                "on (vLLM-CPU: VLLM_CPU_OMP_THREADS_BIND); empty: wherever this process runs"})
    executor_process: str = field(default="separate", metadata={
        "help": "separate: the interpreter's client runs in a process of its own, so handling cells takes no CPU "
                "(and no GIL) from an engine in this process; inline: in this process. Speed only",
        "choices": list(EXECUTOR_PROCESS_MODES)})

    def __post_init__(self) -> None:
        require_positive(self, "max_func_call", "max_tokens_per_call", "max_model_len", "func_call_timeout")
        require_choice(self, "stop_tokens_mode", protocol.STOP_TOKENS_MODES)
        require_choice(self, "func_call_mode", FUNC_CALL_MODES)
        require_choice(self, "interpreter_mode", INTERPRETER_MODES)
        require_choice(self, "loop", LOOP_MODES)
        require_choice(self, "sandbox", SANDBOX_MODES)
        require_choice(self, "executor_process", EXECUTOR_PROCESS_MODES)
        if self.executor_cpus:
            try:
                parse_cpu_list(self.executor_cpus)
            except ValueError as err:
                require("executor_cpus", False, str(err))


@dataclass
class SamplingArguments:
    """How tokens are sampled (the original CLI's defaults)."""

    temperature: float = field(default=0.6, metadata={"help": "0 for greedy (then top_p is 1, as the original)"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling mass, in (0, 1]"})
    seed: int = field(default=0, metadata={"help": "seed of the sampling and of --num_test_sample"})

    def __post_init__(self) -> None:
        validate_sampling(self.temperature, self.top_p)
        if self.temperature == 0:
            self.top_p = 1.0  # the original forces top_p to 1 for greedy decoding


def validate_sampling(temperature: float, top_p: float) -> None:
    """Temperature >= 0 and 0 < top_p <= 1 (also applied to TRL's GRPO flags of the same names)."""
    require("temperature", temperature >= 0, f"must be 0 (greedy) or more, got {temperature}")
    require("top_p", 0 < top_p <= 1, f"must be in (0, 1], got {top_p}")


@dataclass
class EngineArguments:
    """Which generation engine runs which model."""

    model_name_or_path: str = field(default="", metadata={
        "help": "model folder or hub id; empty: the bundled SmolLM2-135M-Instruct"})
    engine: str = field(default="vllm", metadata={
        "help": "vllm (GPU, or vllm-cpu) or hf (transformers, CPU or GPU)", "choices": list(ENGINES)})
    tensor_parallel_size: int = field(default=1, metadata={"help": "GPUs per engine (vllm)"})
    batch_size: int = field(default=16, metadata={"help": "hf: requests decoding at once (newcomers join as rows end)"})

    def __post_init__(self) -> None:
        require_choice(self, "engine", ENGINES)
        require_positive(self, "tensor_parallel_size", "batch_size")


_EXECUTOR_ONLY = ("sandbox", "executor_cpus", "executor_process")  # ToolArguments the loop does not take


def rollout_config(tool: ToolArguments, sampling: SamplingArguments | None = None, **overrides) -> RolloutConfig:
    """The loop's :class:`RolloutConfig` from the shared argument groups (``overrides`` win)."""
    values = {f.name: getattr(tool, f.name) for f in fields(tool) if f.name not in _EXECUTOR_ONLY}
    if sampling is not None:
        values.update(temperature=sampling.temperature, top_p=sampling.top_p, seed=sampling.seed)
    values["func_call_timeout"] = float(values["func_call_timeout"])
    values.update(overrides)
    return RolloutConfig(**values)


def executor_config(tool: ToolArguments, **overrides) -> ExecutorConfig:
    """The interpreter's settings from the shared tool arguments (timeout, sandbox, CPUs; ``overrides`` win)."""
    return ExecutorConfig(**{"timeout": float(tool.func_call_timeout), "sandbox": tool.sandbox,
                             "cpus": tool.executor_cpus, **overrides})


def build_executor(tool: ToolArguments, **overrides):
    """The interpreter for the shared tool arguments, in its own process unless ``--executor_process inline``."""
    return start_executor(executor_config(tool, **overrides), tool.executor_process)
