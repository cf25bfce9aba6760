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

Also read: inference outputs (lines with ``gen``: every generation becomes a trajectory) and,
for problems only, the verl parquet (``prompt`` chat messages, ``reward_model.ground_truth``).
"""

from __future__ import annotations

from cort.hints import add_prompt_suffix
from infer.io import InputError, read_jsonl_strict


def load_trajectories(path: str) -> list[dict]:
    """Trajectories from a trajectory JSONL or an inference output (``gen`` lists)."""
    out = []
    for lineno, row in read_jsonl_strict(path):
        if "gen" in row:
            for gen in row["gen"]:
                out.append({"problem": row.get("problem", row.get("prompt", "")), "prompt": row["prompt"],
                            "response": gen, "gt_answer": str(row.get("gt_answer", "")),
                            "source": row.get("source", "")})
            continue
        for field in ("response", "gt_answer"):
            if field not in row:
                raise InputError(f"{path}:{lineno}: missing field '{field}'")
        if "prompt" not in row and "problem" not in row:
            raise InputError(f"{path}:{lineno}: missing field 'prompt' (or 'problem')")
        row = dict(row)
        row.setdefault("prompt", add_prompt_suffix(row["problem"]))
        row["gt_answer"] = str(row["gt_answer"])
        out.append(row)
    return out


def load_problems(path: str) -> list[dict]:
    """Problems (``prompt``, ``gt_answer``, ``source``) from benchmark JSONL or a verl parquet."""
    if path.endswith(".parquet"):
        import pandas as pd

        frame = pd.read_parquet(path)
        problems = []
        for i, row in frame.iterrows():
            messages = list(row["prompt"])
            user = [m for m in messages if m["role"] == "user"]
            if not user or "reward_model" not in row or "ground_truth" not in row["reward_model"]:
                raise InputError(f"{path}: row {i}: needs a user message in 'prompt' and reward_model.ground_truth")
            problems.append({"prompt": user[-1]["content"], "problem": user[-1]["content"],
                             "gt_answer": str(row["reward_model"]["ground_truth"]),
                             "source": row.get("data_source", "") or "parquet"})
        return problems
    problems = []
    for lineno, row in read_jsonl_strict(path):
        if "gt_answer" not in row or ("prompt" not in row and "problem" not in row):
            raise InputError(f"{path}:{lineno}: needs 'gt_answer' and 'prompt' (or 'problem')")
        problems.append({"prompt": row.get("prompt") or add_prompt_suffix(row["problem"]),
                         "problem": row.get("problem", row.get("prompt")), "gt_answer": str(row["gt_answer"]),
                         "source": row.get("source", "")})
    return problems
