"""nblib: the thin library behind the research notebooks.

The names a notebook needs most are re-exported here; everything else lives in its module.
"""

from nblib.config import ConfigError, configure, param
from nblib.env import pick_device, seed_everything, set_threads
from nblib.progress import progress
from nblib.record import (
    check_invariants,
    load_runs,
    read_run,
    record,
    record_verdicts,
    start_run,
)
from nblib.session import setup

__version__ = "0.1.0"
__all__ = ["ConfigError", "configure", "param", "pick_device", "seed_everything", "set_threads",
           "progress", "load_runs", "read_run", "record", "start_run", "setup", "check_invariants",
           "record_verdicts"]
