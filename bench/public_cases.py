"""Labelled answer-equivalence cases collected from public grader test suites, at bench time.

Nothing of these projects is copied into this repository: the cases are read from checkouts the
user points at (``--sources DIR``, one folder per project, a working tree or a bare git directory),
with their provenance (``project@commit:path:line``). The test files are parsed with ``ast``
(never imported or run) and a case is kept only where its label does not depend on a non-default
option of that project's grader.

Sources (clone each into ``DIR/<folder>``; any commit works, the one used is recorded):

| folder | repository | files |
|---|---|---|
| Math-Verify | https://github.com/huggingface/Math-Verify | ``tests/test_*.py`` (``gold, pred, expected`` parametrize lists) |
| lighteval | https://github.com/huggingface/lighteval | ``tests/unit/metrics/test_extractive_match.py`` |
| NeMo-Skills | https://github.com/NVIDIA/NeMo-Skills | ``tests/test_math_equal.py`` (pairs equal / not equal, both ways) |
| math | https://github.com/hendrycks/math | ``modeling/math_equivalence_test.py`` (MATH's ``is_equiv`` tests) |
| MARIO_EVAL | https://github.com/MARIO-Math-Reasoning/MARIO_EVAL | ``math_evaluation/tests/test_is_equiv.py`` |

Split: a case is held out when a hash of its (reference, prediction) pair falls in the held-out
share (40%), so the split never depends on the order or the number of sources. The development
share is what the grader was tuned on; the held-out share is scored, never read while tuning.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

HELD_OUT_SHARE = 0.4


@dataclass(frozen=True)
class PublicCase:
    """One labelled pair and where it came from."""

    prediction: str
    reference: str
    expected: bool
    origin: str

    @property
    def held_out(self) -> bool:
        """Whether this case belongs to the held-out share (a stable hash of the pair)."""
        return is_held_out(self.reference, self.prediction)


def is_held_out(reference: str, prediction: str) -> bool:
    """The split rule: the first 8 hex digits of sha256(reference NUL prediction) below the share."""
    digest = hashlib.sha256(f"{reference}\0{prediction}".encode()).hexdigest()
    return int(digest[:8], 16) < HELD_OUT_SHARE * 16 ** 8


class _Checkout:
    """Read files of a working tree or of a bare git directory (HEAD)."""

    def __init__(self, root: Path):
        self.root = root
        self.bare = not (root / ".git").exists() and (root / "HEAD").exists() and (root / "objects").exists()
        if not self.bare and (root / "repo" / "HEAD").exists() and not any(root.glob("*.py")):
            self.root, self.bare = root / "repo", True  # a fetched mirror: <folder>/repo is the git dir

    def commit(self) -> str:
        git_dir = self.root if self.bare else self.root / ".git"
        try:
            out = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", "HEAD"], capture_output=True,
                                 text=True, timeout=30, check=True)
            return out.stdout.strip()[:12]
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    def files(self, pattern: str) -> list[str]:
        if not self.bare:
            return sorted(str(p.relative_to(self.root)) for p in self.root.glob(pattern))
        out = subprocess.run(["git", f"--git-dir={self.root}", "ls-tree", "-r", "--name-only", "HEAD"],
                             capture_output=True, text=True, timeout=60, check=True)
        return sorted(p for p in out.stdout.splitlines() if Path(p).match(pattern))

    def read(self, path: str) -> str:
        if not self.bare:
            return (self.root / path).read_text(encoding="utf-8")
        return subprocess.run(["git", f"--git-dir={self.root}", "show", f"HEAD:{path}"], capture_output=True,
                              text=True, timeout=60, check=True).stdout


# Options of the source graders whose non-default values change what a label means.
_DEFAULTS = {"precision": 6, "strict": True, "allow_set_relation_comp": False}
_GOLD, _PRED, _EXPECTED = {"gold"}, {"pred", "prediction", "answer"}, {"expected", "result"}


def _literal(node: ast.AST):
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return _SKIP


_SKIP = object()


_DEFAULT_MATCH_TYPES = ["latex", "expr"]


def _restricted(fn: ast.FunctionDef) -> bool:
    """Whether the test calls its grader with fewer extraction targets than the default."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "match_types" and _literal(kw.value) != _DEFAULT_MATCH_TYPES:
                    return True
            if (len(node.args) >= 3 and isinstance(node.args[2], ast.List)
                    and _literal(node.args[2]) != _DEFAULT_MATCH_TYPES):
                return True
    return False


def _parametrize_lists(tree: ast.AST):
    """(function name, argnames, [(line, values)], restricted) for every ``pytest.mark.parametrize``."""
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        restricted = _restricted(fn)
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize" and len(dec.args) >= 2):
                continue
            names = _literal(dec.args[0])
            if isinstance(names, str):
                names = [n.strip() for n in names.split(",")]
            if not isinstance(names, (list, tuple)) or not isinstance(dec.args[1], (ast.List, ast.Tuple)):
                continue
            rows = []
            for elt in dec.args[1].elts:
                value = _literal(elt)
                if value is not _SKIP:
                    rows.append((elt.lineno, value if len(names) > 1 else (value,)))
            yield fn.name, list(names), rows, restricted


def _as_text(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return value if isinstance(value, str) else None


def gold_pred_cases(source: str, text: str, origin: str) -> list[PublicCase]:
    """Cases from ``parametrize`` lists naming a gold, a prediction and an expected verdict.

    Lists of multiple-choice letters or other languages (function names with ``abc`` or
    ``multilingual``) are skipped, and so is a row whose grader options differ from the defaults.
    Where the test restricts what its grader extracts (``match_types`` other than both), only the
    rows labelled equal are kept: a "not equal" there may only mean "not found by that extractor".
    """
    cases = []
    for fn_name, names, rows, restricted in _parametrize_lists(ast.parse(text)):
        if "abc" in fn_name or "multilingual" in fn_name:
            continue
        gi = next((i for i, n in enumerate(names) if n in _GOLD), None)
        pi = next((i for i, n in enumerate(names) if n in _PRED), None)
        ei = next((i for i, n in enumerate(names) if n in _EXPECTED), None)
        if gi is None or pi is None or ei is None:
            continue
        for line, row in rows:
            if len(row) != len(names):
                continue
            options = {n: row[i] for i, n in enumerate(names) if n in _DEFAULTS}
            if any(options[n] != _DEFAULTS[n] for n in options):
                continue
            gold, pred = _as_text(row[gi]), _as_text(row[pi])
            if gold is None or pred is None or row[ei] not in (0, 1, True, False) or (restricted and not row[ei]):
                continue
            cases.append(PublicCase(pred, gold, bool(row[ei]), f"{origin}:{line}"))
    return cases


def pair_cases(text: str, origin: str) -> list[PublicCase]:
    """Cases from ``output_pair`` lists of ``test_correct_examples`` / ``test_incorrect_examples``
    (the pair is checked in both directions there, so both directions are kept)."""
    cases = []
    for fn_name, names, rows, _ in _parametrize_lists(ast.parse(text)):
        if names != ["output_pair"] or fn_name not in ("test_correct_examples", "test_incorrect_examples"):
            continue
        expected = fn_name == "test_correct_examples"
        for line, (pair,) in rows:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                continue
            a, b = _as_text(pair[0]), _as_text(pair[1])
            if a is None or b is None:
                continue
            cases.append(PublicCase(b, a, expected, f"{origin}:{line}"))
            cases.append(PublicCase(a, b, expected, f"{origin}:{line}"))
    return cases


def unittest_equiv_cases(text: str, origin: str) -> list[PublicCase]:
    """Cases from unittest methods that set ``test_in`` / ``test_out`` (or loop over ``test_pairs``)
    and assert the result of an ``is_equiv``-like call: ``assertTrue`` means equal, ``assertFalse``
    not equal (wrappers such as ``_test_is_not_equiv`` return ``is_equiv``'s own verdict)."""
    cases = []

    def verdict_of(call: ast.AST) -> bool | None:
        if isinstance(call, ast.Expr):
            call = call.value
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") in ("assertTrue", "assertFalse"):
            return call.func.attr == "assertTrue"
        return None

    def walk(body, values):
        for node in body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = _literal(node.value)
                if value is not _SKIP:
                    values[node.targets[0].id] = value
            elif isinstance(node, ast.For) and isinstance(node.iter, ast.Name) and isinstance(node.target, ast.Tuple):
                pairs = values.get(node.iter.id)
                verdicts = [verdict_of(n) for n in node.body]
                verdict = next((v for v in verdicts if v is not None), None)
                if isinstance(pairs, list) and verdict is not None:
                    for pair in pairs:
                        if isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair):
                            cases.append(PublicCase(pair[0], pair[1], verdict, f"{origin}:{node.lineno}"))
            else:
                verdict = verdict_of(node)
                if verdict is not None and isinstance(values.get("test_in"), str) and isinstance(
                        values.get("test_out"), str):
                    cases.append(PublicCase(values["test_in"], values["test_out"], verdict, f"{origin}:{node.lineno}"))

    for fn in ast.walk(ast.parse(text)):
        if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test"):
            walk(fn.body, {})
    return cases


SOURCES = {
    "Math-Verify": ("tests/test_*.py", "gold_pred"),
    "lighteval": ("tests/unit/metrics/test_extractive_match.py", "gold_pred"),
    "NeMo-Skills": ("tests/test_math_equal.py", "pairs"),
    "math": ("modeling/math_equivalence_test.py", "unittest"),
    "MARIO_EVAL": ("math_evaluation/tests/test_is_equiv.py", "unittest"),
}


def collect(sources_dir: Path) -> tuple[list[PublicCase], dict[str, str]]:
    """Every case found under ``sources_dir`` (deduplicated; a pair given opposite labels is dropped),
    and per project the commit read (or why it was not)."""
    found: dict[tuple[str, str], PublicCase] = {}
    conflicting: set[tuple[str, str]] = set()
    read: dict[str, str] = {}
    for folder, (pattern, kind) in SOURCES.items():
        root = sources_dir / folder
        if not root.exists():
            read[folder] = "missing"
            continue
        checkout = _Checkout(root)
        commit = checkout.commit()
        read[folder] = commit
        for path in checkout.files(pattern):
            origin = f"{folder}@{commit}:{path}"
            text = checkout.read(path)
            if kind == "gold_pred":
                cases = gold_pred_cases(folder, text, origin)
            elif kind == "pairs":
                cases = pair_cases(text, origin)
            else:
                cases = unittest_equiv_cases(text, origin)
            for case in cases:
                key = (case.reference, case.prediction)
                if key in found and found[key].expected != case.expected:
                    conflicting.add(key)
                found.setdefault(key, case)
    return [c for k, c in found.items() if k not in conflicting], read
