"""The code-cell protocol on recorded model strings."""

import pytest

from cort import protocol
from cort.protocol import BUDGET_WARNING


def _closes(text: str) -> bool:
    return protocol.closing_cell(text) is not None


def _last_code(text: str) -> str:
    return protocol.find_cells(text)[-1].code

ORIGINAL_WARNING = (
    "[SYSTEM]\nYou have exceeded the allowed number of code executions. You can no longer write or run "
    "code. Please continue solving the problem using your reasoning and analytical skills."
)


def test_stop_sequences_match_original_cli():
    assert protocol.stop_sequences("normal_code_block_end") == ["`\n"]
    old = protocol.stop_sequences("old_normal_code_block_end")
    assert old[0] == "```\n" and old[-1] == "```" + " " * 8 + "\n" and len(old) == 9
    assert protocol.stop_sequences("anything_else") == ["/python"]


def test_budget_warning_is_verbatim():
    assert BUDGET_WARNING == ORIGINAL_WARNING
    block = protocol.format_output("42", warn_budget=True)
    assert block == "```output\n42\n\n" + ORIGINAL_WARNING + "\n```\n"
    assert protocol.format_output("42") == "```output\n42\n```\n"


def test_truncate_keeps_first_and_last_400():
    text = "a" * 400 + "MIDDLE" * 50 + "z" * 400
    out = protocol.truncate(text)
    assert out == "a" * 400 + "..." + "z" * 400
    assert protocol.truncate("x" * 800) == "x" * 800


def test_postprocess_prefers_result_then_report():
    assert protocol.postprocess("  7\n", "ignored") == "7"
    assert protocol.postprocess("", "NameError: x\n") == "NameError: x"
    assert protocol.postprocess("", "") == ""


RECORDED = (
    "Let me compute this.\n```python\nfrom sympy import factorint\nprint(factorint(360))\n```\n"
    "```output\n{2: 3, 3: 2, 5: 1}\n```\n"
    "So `360` has 3*2*4 = 24 divisors.\n```python\nimport math\nprint(math.prod([4, 3, 2]))\n```\n"
)


def test_find_cells_on_recorded_trajectory():
    cells = protocol.find_cells(RECORDED)
    assert [c.code for c in cells] == [
        "from sympy import factorint\nprint(factorint(360))",
        "import math\nprint(math.prod([4, 3, 2]))",
    ]
    assert _closes(RECORDED)
    assert _last_code(RECORDED) == "import math\nprint(math.prod([4, 3, 2]))"
    assert [o.text for o in protocol.find_outputs(RECORDED)] == ["{2: 3, 3: 2, 5: 1}"]


@pytest.mark.parametrize("text", [
    # stop fired on an inline code span at a line end
    "We use the formula `n(n+1)/2`\n",
    # stop fired on a fence inside a triple-quoted string in the code
    "```python\ns = '''\n```\n",
    # a cell still open
    "```python\nx = 1\n",
    # a non-python fenced block
    "Here is text:\n```\nnot code\n```\n",
])
def test_false_stops_do_not_close_a_cell(text):
    assert not _closes(text)


def test_fence_inside_string_does_not_end_cell():
    text = "```python\ns = '''\n```\n'''\nprint(len(s))\n```\n"
    assert _closes(text)
    assert _last_code(text) == "s = '''\n```\n'''\nprint(len(s))"


def test_inline_backticks_inside_code_are_kept():
    text = "```python\nprint('use `x` here')\n```\n"
    assert _last_code(text) == "print('use `x` here')"


def test_an_open_cell_is_not_a_cell():
    assert protocol.find_cells("abc ```python\nx=1\n") == [] and protocol.closing_cell("abc ```python\nx=1\n") is None


def test_code_with_syntax_error_still_closes():
    text = "```python\nprint((1+2)\n```\n"
    assert _closes(text)
    assert _last_code(text) == "print((1+2)"
