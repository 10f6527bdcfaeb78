"""Benchmark: wall time of every notebook, per profile, with one and with two worker processes.

For each profile and worker count, every notebook runs once through the real runner (papermill,
kernel start included) into a fresh runs folder and a fresh checkpoints folder, so nothing is
skipped or loaded from an earlier run and papermill_runs/ is not touched. With two workers two
notebooks run at once, each capped to half the cores. Prints a Markdown table (seconds per
notebook, and the suite's wall time) and writes it with the raw numbers to benchmarks/results/.

    python benchmarks/suite_time.py --profiles smoke            # about 2-3 minutes on 2 cores
    python benchmarks/suite_time.py --profiles smoke default    # about an hour: use an idle machine

The load average at the start of each pass is printed with the table: numbers from a busy machine
are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nblib.runner import RunSpec, find_notebook, list_notebooks, run_many

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Measurement:
    """One (profile, worker count) pass over the notebooks."""

    profile: str  # parameter overlay every notebook ran with
    workers: int  # notebooks running at once
    suite_s: float  # wall time of the whole pass
    load: float  # 1-minute load average when the pass started (others' work skews the times)
    runs: dict = field(default_factory=dict)  # notebook slug -> {"seconds", "status"}


def measure(notebooks: list[Path], profile: str, workers: int,
            timeout: float | None) -> Measurement:
    """Run every notebook at `profile` on `workers` processes into a throwaway runs folder."""
    specs = [RunSpec(nb, profile) for nb in notebooks]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(prefix=f"suite-{profile}-w{workers}-") as root:
        # fresh checkpoints too: notebooks load training runs recorded by an earlier pass
        os.environ["NBLIB_CHECKPOINTS"] = str(Path(root) / "checkpoints")
        start = time.perf_counter()
        try:
            results = run_many(specs, workers=workers, root=Path(root) / "runs", timeout=timeout,
                               on_result=lambda r: print(f"  [{r.get('status')}] "
                                                         f"{r.get('notebook')} "
                                                         f"{r.get('duration_s')} s", flush=True))
        finally:
            os.environ.pop("NBLIB_CHECKPOINTS")
        suite = time.perf_counter() - start
    runs = {
        r["notebook"]: {"seconds": r.get("duration_s"), "status": r.get("status")} for r in results
    }
    return Measurement(profile, workers, round(suite, 1), round(load, 2), runs)


def table(measurements: list[Measurement]) -> str:
    """Markdown: one row per notebook, one column per (profile,
    workers), then the suite's wall time."""
    cols = [f"{m.profile}, {m.workers} worker{'s' if m.workers > 1 else ''}" for m in measurements]
    slugs = sorted({s for m in measurements for s in m.runs})
    lines = ["| notebook | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]

    def cell(run: dict | None) -> str:
        if not run or run["seconds"] is None:
            return run["status"] if run else "-"
        return f"{run['seconds']:.0f} s" + ("" if run["status"] == "ok" else f" ({run['status']})")

    for slug in slugs:
        lines.append(
            f"| {slug} | " + " | ".join(cell(m.runs.get(slug)) for m in measurements) + " |"
        )
    lines.append(
        "| **suite (wall)** | " + " | ".join(f"**{m.suite_s:.0f} s**" for m in measurements) + " |"
    )
    lines.append(
        "| load average at the start | " + " | ".join(f"{m.load:.1f}" for m in measurements) + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="+", default=["smoke", "default"],
                        help="profiles to time")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2],
                        help="worker counts to time")
    parser.add_argument("--notebooks", nargs="+", default=None,
                        help="numbers or slugs (default: all)")
    parser.add_argument("--timeout", type=float, default=None, help="per-cell timeout in seconds")
    args = parser.parse_args()
    notebooks = [find_notebook(n) for n in args.notebooks] if args.notebooks else list_notebooks()
    for profile in args.profiles:  # bad input fails before anything runs
        for nb in notebooks:
            RunSpec(nb, profile).parameters()
    measurements = []
    for profile in args.profiles:
        for workers in args.workers:
            print(f"{profile}, {workers} worker(s):", flush=True)
            measurements.append(measure(notebooks, profile, workers, args.timeout))
    header = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"{time.strftime('%Y-%m-%d')}")
    text = f"{header}\n\n{table(measurements)}\n"
    print("\n" + text)
    RESULTS.mkdir(exist_ok=True)
    stem = "suite_time_" + "_".join(args.profiles)
    (RESULTS / f"{stem}.md").write_text(text)
    (RESULTS / f"{stem}.json").write_text(json.dumps(
        {"machine": header, "measurements": [asdict(m) for m in measurements]}, indent=2))
    print(f"written to {RESULTS / stem}.md and .json")


if __name__ == "__main__":
    main()
