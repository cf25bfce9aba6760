"""The import contract of ../shared/ARCHITECTURE.md, read from the source (no import is executed).

Layers, lowest first: cort; evaluation; infer and data (side by side, never importing each other);
train. A package imports only from its own layer's package and the layers below. No module imports
a command module (one with ``if __name__ == "__main__"``) except to run that command
(``train.rft`` runs ``train.sft`` in-process).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYER = {"cort": 0, "evaluation": 1, "infer": 2, "data": 2, "train": 3}
RUNS_COMMAND = {("train.rft", "train.sft")}


def _modules() -> dict[str, Path]:
    found = {}
    for package in LAYER:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_command(path: Path) -> bool:
    return 'if __name__ == "__main__":' in path.read_text()


def test_packages_import_only_downwards():
    bad = []
    for module, path in _modules().items():
        own = module.split(".")[0]
        for name in _imports(path):
            other = name.split(".")[0]
            if other in LAYER and other != own and LAYER[other] >= LAYER[own]:
                bad.append(f"{module} imports {name}")
    assert bad == []


def test_no_module_imports_a_command_module():
    modules = _modules()
    commands = {m for m, p in modules.items() if _is_command(p)}
    assert {"infer.inference_vllm_dp_mj", "train.sft", "train.rft", "train.grpo",
            "evaluation.compute_metrics_dp", "data.build_sft"} <= commands
    bad = []
    for module, path in modules.items():
        for name in _imports(path) & commands:
            if name != module and (module, name) not in RUNS_COMMAND:
                bad.append(f"{module} imports command {name}")
    assert bad == []


def test_the_contract_catches_a_violation(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from infer.engines import build_engine\nimport train.sft\nfrom . import x\n")
    assert _imports(path) == {"infer.engines", "infer.engines.build_engine", "train.sft"}
