"""Side by side with the original CoRT code: the same inputs through its functions and through ours.

Needs a checkout of the original repository (ChengpengLi1003/CoRT); nothing of it is copied here,
its files are loaded from that folder. Three checks, one table:

1. program rebuilding: random multi-cell texts through the original's ``extract_jupyter_like_program``
   and ``extract_program`` vs :func:`cort.original.jupyter_like_program` / :func:`cort.original.last_program`;
2. the DeepScaleR grader: answer pairs (``tests/grader_cases.py`` and corner cases) through its
   ``extract_answer``, ``grade_answer_mathd``, ``grade_answer_sympy`` vs :mod:`evaluation.deepscaler_grading`;
3. observations: programs (prints, errors, stderr, bare values, ``input(``, ``sys.exit``, syntax errors,
   long output) through the original ``PythonExecutor`` (needs ``pebble``, ``timeout-decorator``,
   ``multiprocess``, ``regex``, ``python-dateutil``) vs :meth:`cort.executor.JupyterExecutor.run_program`:
   the result text compared exactly, the report with the executors' own frames set aside;
4. metrics: generated result rows (boxed, unboxed, cut-off thinking, answers only in code output,
   several boxes, equivalent rewrites, with and without log-probs and ``majority_answer``) through the
   original ``evaluation/compute_metrics_dp.py`` (needs ``pebble``) vs ours; every original key compared.

    python bench/original_parity.py --original_repo ../CoRT
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))

from cort import original, protocol  # noqa: E402
from evaluation import deepscaler_grading, original_grading  # noqa: E402

DS_UTILS = os.path.join("deepscaler", "deepscaler", "rewards", "math_utils", "utils.py")


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its process pool pickles functions by module name
    spec.loader.exec_module(module)
    return module


# -- 1. program rebuilding -------------------------------------------------------------------
_LINES = ["x = 1", "print(x)", "    print(y)", "y = x + 1", "  z = 3", "import math", "pprint(z)", "sp.pprint(a)",
          "for i in range(3):", "    total += i", "", "   ", "s = 'no error here'", "raise ValueError('bad')",
          "rprint(1)", "printer = 2", "\tq = 1", "if True:", "# print(x)"]
_OUTPUTS = ["42", "", "Traceback (most recent call last):\nValueError: bad", "NameError: name 'x'", "3\n4", "EXCEPTION"]
_PROSE = ["Let me compute.", "Now:", "```", "```python", "```output", "text with ``` inside", "Done", ""]


def random_text(rng: random.Random) -> str:
    """A trajectory-like text: code blocks (some unclosed), output blocks (some unclosed), prose, stray fences."""
    parts = []
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.55:
            body = "\n".join(rng.choice(_LINES) for _ in range(rng.randint(0, 4)))
            parts.append(f"```python\n{body}\n{'```' if rng.random() < 0.9 else ''}".rstrip("\n"))
            if rng.random() < 0.7:
                if rng.random() < 0.2:
                    parts.append(rng.choice(_PROSE))
                parts.append(f"```output\n{rng.choice(_OUTPUTS)}\n```" if rng.random() < 0.9 else "```output\n1")
        else:
            parts.append(rng.choice(_PROSE))
    return "\n".join(parts) + rng.choice(["", "\n"])


def check_programs(repo: str, n: int) -> list[tuple[str, int, int]]:
    parser = _load(os.path.join(repo, "infer", "parser.py"), "original_parser")
    rng = random.Random(0)
    texts = [random_text(rng) for _ in range(n)]
    jupyter = sum(parser.extract_jupyter_like_program(t) != original.jupyter_like_program(t) for t in texts)
    python = sum(parser.extract_program(t) != original.last_program(t) for t in texts)
    return [("program rebuilt for --func_call_mode jupyter", n, jupyter),
            ("program run for --func_call_mode python", n, python)]


# -- 2. the DeepScaleR grader -----------------------------------------------------------------
_EXTRA = ["\\boxed{5}", "x = 5", "5 \\text{ cm}", "10\\%", "\\$5", "(1, 2)", "[1,2)", "\\frac12", "\\frac1", "\\sqrt",
          "\\frac", "a \\text{ b} \\text{ c}", "1,000", "3/6", "1/2", "2.5", "0.5", ".5", "7 3/4", "\\text{yes}",
          "5 meters^2", "\\{1,2\\}", "x^{2}", "\\infty", "\\pi", "2\\pi", "1 million", "1e3", "nan", "inf", "", " "]


class _Timeout(Exception):
    pass


def _call(fn, *args):
    signal.alarm(5)
    try:
        return "ok", fn(*args)
    except _Timeout:
        return "timeout", None
    except Exception as err:  # noqa: BLE001 - a raise is an outcome to compare
        return "raise", type(err).__name__
    finally:
        signal.alarm(0)


def check_deepscaler(repo: str) -> list[tuple[str, int, int]]:
    import grader_cases

    theirs = _load(os.path.join(repo, DS_UTILS), "original_deepscaler_utils")
    tables = [v for v in vars(grader_cases).values() if isinstance(v, list)]
    pairs = {(r[0], r[1]) for table in tables for r in table
             if isinstance(r, tuple) and len(r) >= 2 and isinstance(r[0], str) and isinstance(r[1], str)}
    pairs |= {(a, b) for a in _EXTRA for b in _EXTRA[:12]}
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(_Timeout()))
    rows = []
    for label, theirs_fn, ours_fn, wrap in (
            ("DeepScaleR answer extraction", theirs.extract_answer, deepscaler_grading.extract_answer,
             lambda g, t: ("so \\boxed{" + g + "} " + t,)),
            ("DeepScaleR MATH-normalisation rule", theirs.grade_answer_mathd, deepscaler_grading.grade_mathd,
             lambda g, t: (g, t)),
            ("DeepScaleR sympy rule", theirs.grade_answer_sympy, deepscaler_grading.grade_sympy, lambda g, t: (g, t))):
        compared = differ = 0
        for given, truth in sorted(pairs):
            a, b = _call(theirs_fn, *wrap(given, truth)), _call(ours_fn, *wrap(given, truth))
            if "timeout" in (a[0], b[0]):
                continue
            compared += 1
            differ += (a[1] if a[0] == "ok" else ("raises", a[1])) != b[1]
        rows.append((label, compared, differ))
    return rows


# -- 3. observations ------------------------------------------------------------------------
PROGRAMS = [
    "print(1 + 1)", "x = 2\nprint(x * 3)", "print(1)\n1/0", "", "   ", "import sys\nsys.stderr.write('e')\nprint('o')",
    "k = input()", "import os\nos.system('echo hi')", "41 + 1", "if __name__ == '__main__':\n    print('main')",
    "print(__name__)", "x = = 1", "def f(:\n    pass", "import sys\nsys.exit(3)", "raise KeyboardInterrupt",
    "print('a' * 1000)", "for i in range(300):\n    print(i)", "import math\nprint(math.sqrt(2))",
    "import sympy as sp\nx = sp.symbols('x')\nprint(sp.factor(x**2 - 1))", "print('  padded  ')",
"print('x')\nraise ValueError('bad ' * 200)", "import numpy as np\nprint(np.arange(3))",
    "print(undefined_name)", "assert 1 == 2, 'no'", "print('\\n\\n')", "  y = 1\n  print(y)", "print(1)\nprint(2)",
]
_FOREIGN_FRAME = r'  File "(?!<string>)[^"]*", line \d+, in .*\n(?:    .*\n)*'


def check_observations(repo: str) -> list[tuple[str, int, int]]:
    import re

    try:
        Theirs = _load(os.path.join(repo, "infer", "python_executor.py"), "original_python_executor").PythonExecutor
    except ImportError as err:
        return [(f"observations (original PythonExecutor): skipped, {err}", 0, 0)]
    from cort.executor import JupyterExecutor

    theirs = Theirs(get_answer_from_stdout=True, timeout_length=10).batch_apply(PROGRAMS)  # stripped, cut to 800
    results = reports = compared = 0
    with JupyterExecutor(timeout=10) as executor:
        for program, (res, report) in zip(PROGRAMS, theirs):
            mine_res, mine_report = (protocol.truncate(x.strip()) for x in executor.run_program(program).as_pair())
            results += mine_res != res
            if len(report) < protocol.MAX_OUTPUT_CHARS:  # a cut report keeps the executors' frames, which differ
                compared += 1
                aside = [re.sub(_FOREIGN_FRAME, "", r + "\n") for r in (report, mine_report)]
                reports += aside[0] != aside[1]
    return [("observation: what the program printed (after the 800-character cut)", len(PROGRAMS), results),
            ("observation: tracebacks under 800 characters, executors' own frames aside", compared, reports)]


# -- 4. metrics -------------------------------------------------------------------------------
_GOLDS = {"12": ["12", "12.0", "\\frac{24}{2}", "13", "twelve"], "\\frac{1}{2}": ["0.5", "\\frac12", "1/2", "2"],
          "3\\sqrt{2}": ["\\sqrt{18}", "3\\sqrt2", "4.24", "3"], "(1, 2)": ["(1,2)", "(2, 1)", "1, 2", "[1,2]"],
          "5": ["5", "5.0", "\\text{5}", "x = 5", "6"], "100": ["100", "1,00", "10^2", "99"],
          "\\frac{7}{3}": ["\\dfrac{7}{3}", "2\\frac{1}{3}", "7/3", "2.33"], "2025": ["2025", "2,025", "2024"]}


def _generation(rng: random.Random, gold: str) -> str:
    v = rng.choice(_GOLDS[gold])
    return rng.choice([
        f"<think>Let me think.</think>The answer is $\\boxed{{{v}}}$.",
        f"<think>hmm ```python\nprint(1)\n```\n```output\n{v}\n```\n",  # cut off; the answer only in a code output
        f"First \\boxed{{7}} then finally \\boxed{{{v}}}", f"So the answer is {v}.",
        f"<think>a</think>x</think>\\boxed{{{v}}}", "no idea", f"\\boxed{{{v}}}"])


def result_rows(n_rows: int, seed: int = 1) -> list[dict]:
    """Rows in the original output format; rows on which the original script would crash are left out."""
    rng, rows = random.Random(seed), []
    for i in range(n_rows):
        gold = rng.choice(sorted(_GOLDS))
        row = {"prompt": f"p{i}", "gt_answer": gold, "source": rng.choice(["s1", "s2"]),
               "gen": [_generation(rng, gold) for _ in range(4)], "time_use": rng.uniform(1, 5)}
        if rng.random() < 0.5:
            row["gen_cumulative_logprob"] = [-rng.uniform(1, 50) for _ in range(4)]
            row["gen_cumulative_seq_len"] = [rng.randint(5, 200) for _ in range(4)]
        if rng.random() < 0.3:
            row["majority_answer"] = rng.choice(_GOLDS[gold])
        parsed = [original_grading.parse_response(g) for g in row["gen"]]
        if not original_grading.majority_correct(original_grading.parse_reference(gold), parsed,
                                                 row.get("majority_answer", original_grading.ABSENT))[1]:
            rows.append(row)
    return rows


def check_metrics(repo: str, n_rows: int, tokenizer: str) -> list[tuple[str, int, int]]:
    try:
        import pebble  # noqa: F401 - the original script's process pool
    except ImportError:
        return [("metrics (original compute_metrics_dp.py): skipped, pip install pebble", 0, 0)]
    work = tempfile.mkdtemp(prefix="cort-parity-")
    shim = os.path.join(work, "shim", "deepscaler", "rewards", "math_utils")
    os.makedirs(shim)
    for folder in (os.path.join(work, "shim", "deepscaler"), os.path.join(work, "shim", "deepscaler", "rewards"), shim):
        open(os.path.join(folder, "__init__.py"), "w").close()
    with open(os.path.join(shim, "utils.py"), "w") as fh:  # loads the original file from the checkout
        fh.write(f"exec(compile(open({os.path.join(os.path.abspath(repo), DS_UTILS)!r}).read(), 'utils.py', 'exec'))\n")
    rows = result_rows(n_rows)
    with open(os.path.join(work, "dp_rank_0.jsonl"), "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(work, "shim"), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, os.path.join(repo, "evaluation", "compute_metrics_dp.py"), "--input_dir", work,
                    "--tokenizer_name_or_path", tokenizer, "--output_file", os.path.join(work, "theirs.json")],
                   env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "evaluation.compute_metrics_dp", "--input_dir", work, "--no_plot",
                    "--tokenizer_name_or_path", tokenizer, "--output_file", os.path.join(work, "ours.json")],
                   cwd=REPO, check=True, capture_output=True)
    with open(os.path.join(work, "theirs.json")) as a, open(os.path.join(work, "ours.json")) as b:
        theirs, ours = json.load(a), json.load(b)
    values = [(v, ours[src].get(k)) for src in theirs for k, v in theirs[src].items()]
    differ = sum(mine is None or abs(v - mine) > 1e-9 for v, mine in values)
    return [(f"metrics: every original key on {len(rows)} rows, 2 sources", len(values), differ)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--original_repo", required=True, help="a checkout of ChengpengLi1003/CoRT")
    ap.add_argument("--texts", type=int, default=20000)
    ap.add_argument("--rows", type=int, default=60)
    ap.add_argument("--tokenizer", default="", help="tokenizer for token counts (default: the bundled model)")
    args = ap.parse_args()
    if not os.path.isfile(os.path.join(args.original_repo, "infer", "parser.py")):
        sys.exit(f"error: --original_repo: {args.original_repo} is not a checkout of the original CoRT repository")
    from cort.models import resolve_model

    rows = check_programs(args.original_repo, args.texts) + check_deepscaler(args.original_repo)
    rows += check_observations(args.original_repo)
    rows += check_metrics(args.original_repo, args.rows, resolve_model(args.tokenizer))
    print("| check | cases | differences |\n|---|---:|---:|")
    for label, cases, differ in rows:
        print(f"| {label} | {cases} | {differ} |")
    sys.exit(1 if any(d for _, _, d in rows) else 0)


if __name__ == "__main__":
    main()
