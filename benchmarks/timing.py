"""Timing shared by the loop benchmarks (icl_train_overhead, train_throughput): torch threads
chosen by the machine's load, measurements of a minimum wall time, the reference and the target
loop interleaved over rounds with the median ratio, and a JSON record of it all with the load.

A loop is `loop(steps) -> (units, seconds)`: units done (steps, tokens) and the seconds they took.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from nblib.env import default_threads

RESULTS = Path(__file__).resolve().parent / "results"
Loop = Callable[[int], tuple[float, float]]


def load_1min() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine(threads: int = 0) -> dict:
    """Set torch's threads (`threads`, else `default_threads()`: all cores on an idle machine, one
    on a busy one, where spinning threads collapse), print the choice, return what to record."""
    load, cores = load_1min(), os.cpu_count() or 1
    n = threads or default_threads()
    torch.set_num_threads(n)
    why = "as asked" if threads else f"{'busy' if n < cores else 'idle'} machine"
    print(f"torch {torch.__version__}; 1-minute load average {load:.2f} on {cores} cores: "
          f"{n} torch thread{'s' * (n > 1)} ({why})", flush=True)
    return {"torch": torch.__version__, "cores": cores, "threads": n, "load_1min": round(load, 2),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def rate(loop: Loop, steps: int, min_s: float) -> float:
    """Units per second of `loop(steps)`, run again until at least `min_s` seconds are timed (a
    few short steps on a loaded machine measure noise)."""
    units = seconds = 0.0
    while seconds < min_s:
        u, s = loop(steps)
        units, seconds = units + u, seconds + s
    return units / seconds


def interleaved(reference: Loop, target: Loop, steps: int, rounds: int, min_s: float) -> dict:
    """`rounds` paired measurements, the order alternating (AB, BA, ...) so a change of load hits
    both loops alike: medians of each loop's rate and of the per-round ratio target/reference."""
    refs, targets = [], []
    for r in range(rounds):
        first, second = (reference, target) if r % 2 == 0 else (target, reference)
        a, b = rate(first, steps, min_s), rate(second, steps, min_s)
        refs.append(a if r % 2 == 0 else b)
        targets.append(b if r % 2 == 0 else a)
    ratios = [t / r for t, r in zip(targets, refs, strict=True)]
    return {"steps": steps, "rounds": rounds, "min_s": min_s,
            "reference": statistics.median(refs), "target": statistics.median(targets),
            "ratio": statistics.median(ratios), "ratios": [round(x, 3) for x in ratios]}


def write_record(name: str, record: dict) -> Path:
    """benchmarks/results/<name>.json, with the load average at the end added (was it steady?)."""
    record = {**record, "load_1min_end": round(load_1min(), 2)}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"1-minute load average at the end {record['load_1min_end']:.2f}; written to {path}")
    return path
