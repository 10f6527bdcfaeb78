"""Nothing in nblib or benchmarks unpickles: no torch.load without weights_only=True, no pickle,
cloudpickle, dill or shelve, no joblib.load, np.load(allow_pickle=True) or pd.read_pickle. Read
with `ast`, so comments and docstrings that name these calls do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "shelve"}
ALWAYS_BAD = {"joblib.load", "pandas.read_pickle"}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> the dotted name it was imported as (np and pd by convention even unseen)."""
    names = {"np": "numpy", "pd": "pandas"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                root = a.name.split(".")[0]
                names[a.asname or root] = a.name if a.asname else root
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """`torch.load` for the callee `torch.load` (or `tl` after `from torch import load as tl`)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node: ast.expr | None, value: bool) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _bad_call(call: ast.Call, aliases: dict[str, str]) -> str | None:
    name = _dotted(call.func, aliases) or ""
    if name in {"torch.load", "torch.serialization.load"}:
        ok = _is_const(_keyword(call, "weights_only"), True)
        return None if ok else f"{name} without weights_only=True"
    if name == "numpy.load":
        flag = _keyword(call, "allow_pickle")
        return None if flag is None or _is_const(flag, False) else "numpy.load(allow_pickle=...)"
    if name in ALWAYS_BAD or name.endswith(".read_pickle"):
        return name
    if name.split(".")[0] in PICKLE_MODULES:
        return name
    if name in {"__import__", "importlib.import_module"} and call.args:
        arg = call.args[0]
        if isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] in PICKLE_MODULES:
            return f"{name}({arg.value!r})"
    return None


def unpickling(source: str, filename: str = "<string>") -> list[str]:
    """'file:line: what' for every import of a pickle module and every call that unpickles."""
    tree = ast.parse(source, filename)
    aliases, found = _aliases(tree), []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name.split(".")[0] in PICKLE_MODULES]
            what = f"import {', '.join(bad)}" if bad else None
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in \
                PICKLE_MODULES:
            what = f"from {node.module} import ..."
        elif isinstance(node, ast.Call):
            what = _bad_call(node, aliases)
        if what:
            found.append(f"{filename}:{node.lineno}: {what}")
    return found


def scanned_files() -> list[Path]:
    return sorted((ROOT / "nblib").rglob("*.py")) + sorted((ROOT / "benchmarks").rglob("*.py"))


def test_nothing_in_nblib_or_benchmarks_unpickles():
    found = [hit for path in scanned_files()
             for hit in unpickling(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


def test_the_scan_reads_the_library_and_the_benchmarks():
    names = {str(p.relative_to(ROOT)) for p in scanned_files()}
    assert len(names) > 20
    assert {"nblib/train/checkpoints.py", "nblib/experiments/warm_start_distillation/experiment.py",
            "benchmarks/train_throughput.py"} <= names


@pytest.mark.parametrize("source", [
    "torch.load(path)",
    "torch.load(path, weights_only=False)",
    "torch.load(path, map_location='cpu', weights_only=flag)",
    "from torch import load\nload(path)",
    "import pickle",
    "import cloudpickle as cp",
    "from pickle import loads",
    "import importlib\nimportlib.import_module('pickle')",
    "import joblib\njoblib.load(path)",
    "np.load(path, allow_pickle=True)",
    "import numpy\nnumpy.load(path, allow_pickle=ok)",
    "pd.read_pickle(path)",
    "frame = pandas.read_pickle(path)",
])
def test_the_checker_catches_an_unpickling_line(source):
    assert len(unpickling(f"x = 1\n{source}\n")) == 1


def test_the_checker_ignores_comments_docstrings_and_safe_loads():
    source = '''
"""Never torch.load(path) nor pickle.load(f) here; import pickle is banned."""
import numpy as np
import torch

def read(path):
    # torch.load(path) would unpickle; np.load(path, allow_pickle=True) too
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state, np.load(path), np.load(path, allow_pickle=False), "pd.read_pickle(x)"
'''
    assert unpickling(source) == []
