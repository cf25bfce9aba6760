"""The hint library: verbatim texts, placement, detection, markers."""

from cort import hints

TRAJ_DELAYED = (
    "We need the product 4821 * 3907. Let me compute it by hand.\n"
    "4821 * 3907 = 4821 * 4000 - 4821 * 93\n"
    "4821 * 4000 = 19284000\n"
    "4821 * 93 = 448353\n"
    "So the product is 18835647.\n"
    "```python\nprint(4821 * 3907)\n```\n```output\n18835647\n```\n"
    "The answer is \\boxed{18835647}."
)

TRAJ_DISTRUST = (
    "```python\nfrom math import comb\nprint(comb(30, 12))\n```\n```output\n86493225\n```\n"
    "Let me double-check this by hand: 30*29*28*27*26*25 / 720 = 593775, then ... = 86493225.\n"
    "So the answer is \\boxed{86493225}."
)

TRAJ_CLEAN = (
    "We count subsets with python.\n```python\nfrom math import comb\nprint(comb(30, 12))\n```\n"
    "```output\n86493225\n```\nThe code enumerates all subsets correctly, so the answer is \\boxed{86493225}."
)


def test_hint_texts_are_verbatim_from_the_paper():
    assert hints.PROMPT_HINT == "Okay, let's try to solve this problem step by step using multiple python code calls."
    assert hints.HINT_DELAYED_COMPUTATION == (
        "It looks tedious, and we can use python code to simplify the reasoning.```python")
    assert hints.HINT_CODE_DISTRUST == "We don't need to doubt the accuracy of python calculations."
    assert hints.PROMPT_SUFFIX == (
        "Please integrate natural language reasoning with python programs to solve the problem above, "
        "and put your final answer within \\boxed{}.")


def test_prompt_suffix_matches_benchmark_files(shared_data):
    import json

    with open(shared_data / "test_aime24.reason_step.jsonl") as fh:
        example = json.loads(fh.readline())
    assert example["prompt"] == hints.add_prompt_suffix(example["problem"])


def test_add_prompt_hint_after_template_think():
    qwen3 = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n"
    assert hints.add_prompt_hint(qwen3) == qwen3 + hints.PROMPT_HINT
    no_newline = "<|Assistant|><think>"
    assert hints.add_prompt_hint(no_newline) == "<|Assistant|><think>\n" + hints.PROMPT_HINT
    plain = "<|im_start|>assistant\n"
    assert hints.add_prompt_hint(plain) == plain + "<think>\n" + hints.PROMPT_HINT


def test_detects_delayed_computation_before_code():
    sites = hints.detect_delayed_computation(TRAJ_DELAYED)
    assert len(sites) == 1 and sites[0].kind == hints.DELAYED_COMPUTATION
    assert TRAJ_DELAYED[sites[0].position:].startswith("Let me compute it by hand.")
    assert sites[0].confidence >= 0.8
    cut = hints.hint_and_cut(TRAJ_DELAYED, sites[0])
    assert cut == "We need the product 4821 * 3907. " + hints.HINT_TEXTS[hints.DELAYED_COMPUTATION]


def test_detects_code_distrust_after_output():
    sites = hints.detect_code_distrust(TRAJ_DISTRUST)
    assert len(sites) == 1 and sites[0].kind == hints.CODE_DISTRUST
    assert TRAJ_DISTRUST[sites[0].position:].startswith("Let me double-check this by hand")
    assert sites[0].confidence >= 0.8


def test_checking_code_logic_is_not_distrust():
    assert hints.detect_sites(TRAJ_CLEAN) == []
    logic = TRAJ_CLEAN.replace("The code enumerates", "Let me check the code logic: it enumerates")
    assert hints.detect_code_distrust(logic) == []


def test_short_arithmetic_is_not_delayed_computation():
    assert hints.detect_delayed_computation("So 2 + 3 = 5 and we code.\n```python\nprint(1)\n```\n") == []


def test_manual_markers_win_over_detection():
    marked = TRAJ_DISTRUST.replace("Let me double-check", "[[hint:code_distrust]]Let me double-check")
    sites = hints.detect_sites(marked)
    assert [s.manual for s in sites] == [True]
    clean = hints.strip_markers(marked)
    assert clean == TRAJ_DISTRUST and clean[sites[0].position:].startswith("Let me double-check")
    assert hints.HINT_CODE_DISTRUST + "Let me double-check" in hints.render_markers(marked)


def test_insert_and_remove_hints_round_trip():
    sites = hints.detect_sites(TRAJ_DISTRUST)
    with_hint = hints.insert_hints(TRAJ_DISTRUST, sites)
    assert hints.HINT_CODE_DISTRUST in with_hint
    assert hints.remove_hints(with_hint) == TRAJ_DISTRUST
    h1 = "Compute. " + hints.HINT_DELAYED_COMPUTATION + "\nprint(1)\n```\n"
    assert hints.remove_hints(h1) == "Compute. ```python\nprint(1)\n```\n"


def test_site_at_the_start_of_text_is_not_shifted():
    text = ("Let me compute it by hand.\n4821 * 3907 = 4821 * 4000 - 4821 * 93\n4821 * 93 = 448353\n"
            "```python\nprint(1)\n```\n")
    [site] = hints.detect_delayed_computation(text)
    assert site.position == 0
    assert hints.hint_and_cut(text, site) == hints.HINT_TEXTS[hints.DELAYED_COMPUTATION]


def test_strip_markers_removes_span_ends_and_keeps_contents():
    text = "A.\n[[hint:code_distrust]]Let me re-check by hand.\n[[/hint]]The answer is 3."
    assert hints.strip_markers(text) == "A.\nLet me re-check by hand.\nThe answer is 3."
