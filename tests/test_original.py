"""``interpreter_mode="original"``: the observations the original CoRT loop gives, on scripted trajectories.

Each expected text below was worked out by hand from the original's rules (its inference CLI's
round loop, its program rebuilding for ``--func_call_mode jupyter``, its executor's stdout capture
and traceback report), not produced by this code. ``<<TRACEBACK last line>>`` stands for a Python
traceback: the header, ``File`` frames, then that last line.
"""

from __future__ import annotations

import re

import pytest

from cort import original, protocol
from cort.replay import ReplayEngine
from cort.rollout import RolloutConfig, run_rollouts

WARNING = protocol.BUDGET_WARNING


def _pattern(expected: str) -> str:
    parts = re.split(r"<<TRACEBACK (.*?)>>", expected)
    frames = r"Traceback \(most recent call last\):\n(?:  File .*\n(?:    .*\n)*)+"
    return "".join(re.escape(p) if k % 2 == 0 else frames + re.escape(p) for k, p in enumerate(parts))


def _run(tokenizer, executor, script: str, **cfg):
    prompt = "<original-mode>\n"
    engine = ReplayEngine(tokenizer, {prompt: script})
    config = RolloutConfig(**{"max_func_call": 10, "max_tokens_per_call": 512, "max_model_len": 8192,
                              "temperature": 0.0, "interpreter_mode": "original", **cfg})
    (traj,) = run_rollouts(engine, [prompt], config, executor=executor)
    return traj


CASES = {
    "earlier cells re-run without their prints": (
        "Let me compute.\n```python\nx = 6 * 7\nprint(x)\n```\nNow double it.\n```python\ny = x * 2\nprint(y)\n```\n"
        "So \\boxed{84}.",
        "Let me compute.\n```python\nx = 6 * 7\nprint(x)\n```\n```output\n42\n```\n"
        "Now double it.\n```python\ny = x * 2\nprint(y)\n```\n```output\n84\n```\nSo \\boxed{84}.",
        {}),
    "error outputs and cells still printing are left out; printed text before an exception is dropped": (
        "```python\nz = 5\nfor i in range(2):\n    print(i)\n```\n"
        "```python\nw = 1 / 0\n```\n"
        "```python\nq = 7\nprint(q)\n```\n"
        "```python\nprint(q + 1)\nprint(z)\n```\nDone.",
        "```python\nz = 5\nfor i in range(2):\n    print(i)\n```\n```output\n0\n1\n```\n"
        "```python\nw = 1 / 0\n```\n```output\n<<TRACEBACK ZeroDivisionError: division by zero>>\n```\n"
        "```python\nq = 7\nprint(q)\n```\n```output\n7\n```\n"
        "```python\nprint(q + 1)\nprint(z)\n```\n```output\n<<TRACEBACK NameError: name 'z' is not defined>>\n```\n"
        "Done.",
        {}),
    "a stop that is not a code cell spends its round on an empty output block": (
        "Let `n`\nbe three.\n```python\nn = 3\nprint(n ** 2)\n```\nSo \\boxed{9}.",
        "Let `n`\n```output\n\n```\nbe three.\n```python\nn = 3\nprint(n ** 2)\n```\n```output\n9\n```\nSo \\boxed{9}.",
        {}),
    "budget warning after round max_func_call - 1, no stops in the last round": (
        "```python\nprint(1)\n```\n```python\nprint(2)\n```\n```python\nprint(3)\n```\nEnd.",
        "```python\nprint(1)\n```\n```output\n1\n```\n"
        f"```python\nprint(2)\n```\n```output\n2\n\n{WARNING}\n```\n```python\nprint(3)\n```\nEnd.",
        {"max_func_call": 3}),
    "python mode runs the last block alone": (
        "```python\na = 2\nprint(a)\n```\n```python\nprint(a + 1)\n```\nEnd.",
        "```python\na = 2\nprint(a)\n```\n```output\n2\n```\n"
        "```python\nprint(a + 1)\n```\n```output\n<<TRACEBACK NameError: name 'a' is not defined>>\n```\nEnd.",
        {"func_call_mode": "python"}),
    "dedent, stdout only, a namespace without __main__, input() refused": (
        "```python\n    v = 10\n    print(v + 1)\n```\n"
        "```python\nimport sys\nsys.stderr.write('hidden\\n')\nprint('shown')\nv * 3\n```\n"
        "```python\nif __name__ == '__main__':\n    print('main')\n```\n"
        "```python\nk = input()\n```\nEnd.",
        "```python\n    v = 10\n    print(v + 1)\n```\n```output\n11\n```\n"
        "```python\nimport sys\nsys.stderr.write('hidden\\n')\nprint('shown')\nv * 3\n```\n```output\nshown\n```\n"
        "```python\nif __name__ == '__main__':\n    print('main')\n```\n```output\n\n```\n"
        "```python\nk = input()\n```\n```output\n<<TRACEBACK RuntimeError>>\n```\nEnd.",
        {}),
    "old stop mode: a fence followed by spaces ends the trajectory": (
        "```python\nprint(5)\n```  \nMore text that is never generated.",
        "```python\nprint(5)\n```  \n",
        {"stop_tokens_mode": "old_normal_code_block_end"}),
    "a syntax error is reported with its caret": (
        "```python\nx = = 1\n```\nEnd.",
        "```python\nx = = 1\n```\n```output\n<<TRACEBACK SyntaxError: invalid syntax>>\n```\nEnd.",
        {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scripted_trajectories_match_the_original(tokenizer, executor, name):
    script, expected, cfg = CASES[name]
    traj = _run(tokenizer, executor, script, **cfg)
    assert re.fullmatch(_pattern(expected), traj.text), f"{name}:\n{traj.text}"
    assert traj.infra_errors == 0


def test_round_and_call_counts(tokenizer, executor):
    script, _, _ = CASES["a stop that is not a code cell spends its round on an empty output block"]
    traj = _run(tokenizer, executor, script)
    assert (traj.rounds, traj.code_calls, traj.code_errors, traj.finish_reason) == (3, 1, 0, "stop")
    script, _, cfg = next(v for k, v in CASES.items() if k.startswith("error outputs"))
    traj = _run(tokenizer, executor, script, **cfg)
    assert (traj.code_calls, traj.code_errors) == (4, 2)


def test_timeout_reports_like_the_original(tokenizer, executor):
    traj = _run(tokenizer, executor, "```python\nimport time\ntime.sleep(30)\n```\nEnd.", func_call_timeout=2.0)
    assert traj.text == "```python\nimport time\ntime.sleep(30)\n```\n```output\nTimeout Error\n```\nEnd."
    assert traj.code_timeouts == 1


def test_long_output_cut_like_the_original(tokenizer, executor):
    traj = _run(tokenizer, executor, "```python\nprint('a' * 500 + 'b' * 500)\n```\nEnd.")
    out = protocol.find_outputs(traj.text)[0].text
    assert out == "a" * 400 + "..." + "b" * 400


def test_kernel_mode_keeps_a_live_kernel(tokenizer, executor):
    script = "```python\nx = 6 * 7\nx\n```\n```python\nprint(x * 2)\n```\nEnd."
    traj = _run(tokenizer, executor, script, interpreter_mode="kernel")
    assert [o.text for o in protocol.find_outputs(traj.text)] == ["42", "84"]
    traj = _run(tokenizer, executor, script)  # the original shows no value of a bare expression
    assert [o.text for o in protocol.find_outputs(traj.text)] == ["", "84"]


def test_program_rebuilding_rules():
    text = ("```python\nx = 1\nprint(x)\n```\nSome prose.\n```output\n1\n```\n"
            "```python\ny = 2\n```\nno output here\n```python\n```\n"
            "```python\nprint(x + y)\n```\n")
    assert original.programs_and_outputs(text) == [("x = 1\nprint(x)", "1\n"), ("y = 2", ""), ("print(x + y)", "")]
    assert original.jupyter_like_program(text) == "x = 1\ny = 2\nprint(x + y)"
    assert original.last_program(text) == "print(x + y)\n"
    # a cell whose output mentions an error word in any case is left out; pprint lines go; blank lines go
    text = ("```python\nimport math\n\nr = math.sqrt(2)\npprint(r)\n```\n```output\n1.414\n```\n"
            "```python\ns = 'no Exception here'\n```\n```output\nEXCEPTION-free\n```\n"
            "```python\nprint(r)\n```\n")
    assert original.jupyter_like_program(text) == "import math\nr = math.sqrt(2)\nprint(r)"
    assert original.jupyter_like_program("no code at all") == ""
    assert original.programs_and_outputs("```python\nx = 1\n") == []  # an unclosed block is not a program
