"""Training trajectories and problems: the file formats and their loaders.

Trajectory JSONL (one solved problem per line)::

    {"problem": "...",                      # the question
     "prompt": "...",                       # optional; default: problem + CoRT's instruction
     "response": "...```python\\n...\\n```\\n```output\\n...\\n```\\n... \\\\boxed{42}",
     "gt_answer": "42",                     # the reference answer
     "source": "fixtures"}                  # optional

``response`` is the assistant text: reasoning, ```` ```python ```` cells and ```` ```output ````
blocks exactly as the executor printed them. Hints can be placed by hand with markers inside
``response``: ``[[hint:delayed_computation]]`` / ``[[hint:code_distrust]]`` insert the hint
there; wrapping text as ``[[hint:code_distrust]]...[[/hint]]`` replaces that text by the hint
(manual markers always win over detection).

Optional token-exact fields (``train.rft`` writes them; ``train.sft`` trains on them when its model is
the one named in ``tokenizer``): ``prompt_ids``, ``completion_ids`` and ``model_mask`` (1 for a
model-written token, 0 for an interpreter token; one per completion id).

Also read: inference outputs (lines with ``gen``: every generation becomes a trajectory) and,
for problems only, the verl parquet (``prompt`` chat messages, ``reward_model.ground_truth``).
"""

from __future__ import annotations

from cort.hints import add_prompt_suffix
from cort.io import Field, InputError, check_per_generation, read_jsonl, read_parquet

ANSWER = Field("gt_answer", (str, int, float))
TEXT_OPTIONAL = {name: Field(name, required=False) for name in ("prompt", "problem", "source")}
TOKEN_FIELDS = ("prompt_ids", "completion_ids", "model_mask")  # token-exact record (written by train.rft)


def _prompt_and_problem(path: str, lineno: int, row: dict) -> tuple[str, str]:
    for rule in TEXT_OPTIONAL.values():
        rule.check(row, path, lineno)
    if not row.get("prompt") and not row.get("problem"):
        raise InputError(path, "missing (a line needs 'prompt' or 'problem')", lineno, "prompt")
    prompt = row.get("prompt") or add_prompt_suffix(row["problem"])
    return prompt, row.get("problem") or prompt


def load_trajectories(path: str) -> list[dict]:
    """Trajectories from a trajectory JSONL or an inference output (``gen`` lists)."""
    out = []
    for lineno, row in read_jsonl(path, [ANSWER]):
        prompt, problem = _prompt_and_problem(path, lineno, row)
        base = {"problem": problem, "prompt": prompt, "gt_answer": str(row["gt_answer"]),
                "source": row.get("source") or ""}
        if "gen" in row:
            Field("gen", (list,), items=str).check(row, path, lineno)
            check_per_generation(row, path, lineno)
            infra = row.get("gen_infra_errors") or [0] * len(row["gen"])
            out += [{**base, "response": gen} for gen, bad in zip(row["gen"], infra) if not bad]
            continue
        Field("response").check(row, path, lineno)
        traj = {**row, **base}
        if any(name in row for name in TOKEN_FIELDS):
            for name in TOKEN_FIELDS:
                Field(name, (list,), items=int).check(row, path, lineno)
            if len(row["completion_ids"]) != len(row["model_mask"]):
                raise InputError(path, "must have one entry per completion token", lineno, "model_mask")
        out.append(traj)
    return out


def load_problems(path: str) -> list[dict]:
    """Problems (``prompt``, ``problem``, ``gt_answer``, ``source``) from benchmark JSONL or a verl parquet."""
    if path.endswith(".parquet"):
        problems = []
        for i, row in read_parquet(path, [Field("prompt", (list,)), Field("reward_model", (dict,))]):
            user = [m for m in row["prompt"] if isinstance(m, dict) and m.get("role") == "user"]
            if not user or not isinstance(user[-1].get("content"), str) or not user[-1]["content"].strip():
                raise InputError(path, "needs a user message with text content", i, "prompt", "row ")
            answer = row["reward_model"].get("ground_truth")
            if not isinstance(answer, (str, int, float)) or not str(answer).strip():
                raise InputError(path, "missing or empty", i, "reward_model.ground_truth", "row ")
            problems.append({"prompt": user[-1]["content"], "problem": user[-1]["content"],
                             "gt_answer": str(answer), "source": row.get("data_source") or "parquet"})
        return problems
    problems = []
    for lineno, row in read_jsonl(path, [ANSWER]):
        prompt, problem = _prompt_and_problem(path, lineno, row)
        problems.append({"prompt": prompt, "problem": problem, "gt_answer": str(row["gt_answer"]),
                         "source": row.get("source") or ""})
    return problems
