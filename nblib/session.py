"""The opening of every notebook in one call: `s = nblib.setup(Config, globals())`.

It builds and prints the config, opens the run record, caps threads, picks the device, seeds,
sets the plot theme, decides how many worker processes a grid gets, and prints a timed runtime
estimate when the notebook's package gives one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nblib.config import as_table, configure
from nblib.env import pick_device, seed_everything, set_threads
from nblib.record import record, start_run

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Session:
    """What the setup cell hands to the rest of a notebook."""

    cfg: Any  # the validated config
    run_dir: Path  # this run's record folder
    device: torch.device  # where tensors live
    threads: int  # torch intra-op threads of this kernel
    workers: int  # processes a job grid may use (1 on a GPU)
    estimate_s: float | None  # the timed runtime estimate, seconds (None: the notebook has none)


def setup(cls: type, namespace: Mapping[str, Any], slug: str,
          estimate: Callable[[Any, torch.device, int], float] | None = None,
          quiet: bool = False) -> Session:
    """Configure `cls` from the parameters in `namespace`, open the run `slug` and prepare the
    kernel. `estimate(cfg, device, workers)` returns the expected seconds of the experiment
    (timed on this machine, e.g. a few training steps); it is printed and recorded."""
    from nblib import plots

    cfg = configure(cls, namespace)
    threads = set_threads()  # before the record opens: its env names the threads in use
    run_dir = start_run(slug, cfg)
    device = pick_device(getattr(cfg, "device", "auto"))
    seed_everything(0)
    plots.set_theme()
    # worker processes run one thread each: capped by the cores, not by this kernel's threads (a
    # load-aware count that a machine still busy from the last minute's work sets to 1)
    cores = os.cpu_count() or 1
    workers = min(getattr(cfg, "workers", 1), cores) if device.type == "cpu" else 1
    estimate_s = None
    if estimate is not None:
        t0 = time.perf_counter()
        estimate_s = float(estimate(cfg, device, workers))
        record("runtime_estimate", {"seconds": estimate_s, "timing_s": time.perf_counter() - t0})
    if not quiet:
        print(as_table(cfg))
        budget = "" if estimate_s is None else f"; estimated {format_seconds(estimate_s)}"
        print(f"\ndevice {device}, {threads} thread(s), {workers} worker process(es){budget}; "
              f"recording to {run_dir}")
    return Session(cfg, run_dir, device, threads, workers, estimate_s)


def format_seconds(seconds: float) -> str:
    """'42 s', '3.5 min' or '1.2 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
