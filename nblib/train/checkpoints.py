"""Checkpoints of tiny causal LMs: safetensors weights, a JSON sidecar, and exact-resume state.

    store = CheckpointStore(checkpoints_dir("lm_scaling"))
    for step in log_spaced_steps(1000, every=250): ...; store.save(model, step, {"tokens": n})
    model = store.load(128)                    # AutoModelForCausalLM, eval mode

Each checkpoint is a folder `step-000128[-<branch>]/` with `model.safetensors`, `config.json` and
`nblib.json` (step, branch, meta), plus `training_state.{safetensors,json}` when saved. Nothing is
pickled: tensors go to safetensors, everything else to JSON. A save killed mid-way leaves a hidden
scratch folder; opening the store deletes those of saves no longer running (`clean_leftovers`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from nblib.config import ConfigError
from nblib.record import pid_alive, read_json, to_jsonable, write_json_atomic

SIDECAR = "nblib.json"
STATE_TENSORS, STATE_JSON = "training_state.safetensors", "training_state.json"
_NAME = re.compile(r"step-(\d+)(?:-([A-Za-z0-9][A-Za-z0-9_.-]*))?")
_BRANCH = re.compile(r"|[A-Za-z0-9][A-Za-z0-9_.-]*")
_HUB_STEP = re.compile(r"(?:^|[-_])step[-_]?(\d+)(?=$|[-_])")
_MARKERS = {"__tensor__", "__tuple__", "__items__", "__float__"}
# a save's scratch folders: .<name>.tmp-<host>-<pid>-<tag> (being built) and .<name>.old-... (the
# checkpoint it replaces, moved aside); saves before host and pid were named leave .<name>.tmp-<tag>
_SCRATCH = re.compile(r"\.(?P<name>step-\d+(?:-[A-Za-z0-9][A-Za-z0-9_.-]*?)?)\.(?P<kind>tmp|old)-"
                      r"(?:(?P<host>[A-Za-z0-9_.-]+)-(?P<pid>\d+)-)?[0-9a-f]{8}")
LEFTOVER_MAX_AGE_S = 24 * 3600  # scratch folders unchanged this long belong to no running save


def log_spaced_steps(max_step: int, every: int) -> list[int]:
    """0, 1, 2, 4, ... (powers of two below `every`), every multiple of `every`, and max_step."""
    if max_step < 0 or every < 1:
        raise ConfigError(f"log_spaced_steps(max_step={max_step}, every={every}): expected "
                          "max_step >= 0 and every >= 1")
    powers = [0] + [2**k for k in range(every.bit_length()) if 2**k < every]
    multiples = set(range(0, max_step + 1, every))
    return sorted({s for s in powers if s <= max_step} | multiples | {max_step})


def geometric_steps(total: int, n: int, first: float = 1.0) -> list[int]:
    """`n` evaluation steps spaced geometrically from `first` (raised to 1) to `total`, rounded
    to the nearest step, unique and ascending (fewer than `n` where two round alike): the one rule
    for log-spaced evaluation points, `np.geomspace(max(1, first), total, n)` rounded."""
    if total < 1 or n < 1 or first <= 0 or first > total:
        raise ConfigError(f"geometric_steps(total={total}, n={n}, first={first}): expected "
                          "total >= 1, n >= 1 and 0 < first <= total")
    if n == 1:
        return [int(total)]
    return sorted({max(1, round(s)) for s in np.geomspace(max(1.0, first), total, n)})


def _name(step: int, branch: str) -> str:
    return f"step-{step:06d}" + (f"-{branch}" if branch else "")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "_"


def _scratch_name(name: str, kind: str, pid: int | None = None) -> str:
    """The hidden folder a save by process `pid` (this one by default) of this host works in."""
    return f".{name}.{kind}-{_host()}-{os.getpid() if pid is None else pid}-{uuid.uuid4().hex[:8]}"


def _abandoned(path: Path, m: re.Match, max_age_s: float) -> bool:
    """Whether the save that owns scratch folder `path` (`m`: its parsed name) is over: its
    process is dead (same host, pid gone), or the folder is untouched for `max_age_s` (another
    host's save, an old-style name, a pid since reused)."""
    if m["pid"] and m["host"] == _host() and os.name == "posix" and not pid_alive(int(m["pid"])):
        return True
    try:
        st = path.stat()
    except FileNotFoundError:  # its save just finished
        return False
    # ctime too: moving a checkpoint aside (.old-) keeps its mtime but sets its ctime to now
    return time.time() - max(st.st_mtime, st.st_ctime) > max_age_s


@dataclass(frozen=True)
class Checkpoint:
    """One saved checkpoint (a complete folder on disk)."""

    step: int  # optimizer steps taken when saved
    branch: str  # "" for the main trajectory, else e.g. "decay" (a WSD decay branch from `step`)
    path: Path  # the checkpoint folder
    meta: dict = field(compare=False, hash=False, repr=False)  # the sidecar nblib.json

    @property
    def name(self) -> str:
        return _name(self.step, self.branch)


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers' per-file progress bars, silenced (a bar per checkpoint floods a notebook)."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def _check(step: Any, branch: Any) -> None:
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ConfigError(f"step={step!r}: expected an int >= 0")
    if not isinstance(branch, str) or not _BRANCH.fullmatch(branch):
        raise ConfigError(f"branch={branch!r}: expected '' (the main trajectory) or a name of "
                          "letters, digits, '_', '.' and '-' such as 'decay'")


class CheckpointStore:
    """The checkpoints under `root`, one folder each; `list()` shows exactly what is on disk."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.clean_leftovers()

    def clean_leftovers(self, max_age_s: float = LEFTOVER_MAX_AGE_S) -> list[Path]:
        """Delete the scratch folders of saves that are over (each a full model copy), and return
        them: a save is over when its process is provably dead (this host, pid not alive) or its
        folder is untouched for `max_age_s` (default 1 day; the only rule for other hosts' saves
        and old-style names), so a save running in another process is never disturbed. A
        checkpoint moved aside by a save killed before its replacement landed is put back.
        Called on opening a store."""
        gone = []
        for path in sorted(self.root.glob(".step-*")) if self.root.is_dir() else []:
            m = _SCRATCH.fullmatch(path.name)
            if not (m and path.is_dir() and _abandoned(path, m, max_age_s)):
                continue
            final = self.root / m["name"]
            if m["kind"] == "old" and not final.exists():
                with contextlib.suppress(OSError):  # a concurrent save landed first: delete
                    os.replace(path, final)
            shutil.rmtree(path, ignore_errors=True)
            gone.append(path)
        return gone

    def __repr__(self) -> str:
        return f"CheckpointStore({str(self.root)!r})"

    def save(self, model, step: int, meta: dict, branch: str = "", optimizer=None,
             extra: dict | None = None) -> Checkpoint:
        """Write weights (safetensors), config.json and the sidecar {"step", "branch", **meta};
        with `optimizer`, the training state too. Atomic: built in a hidden temp folder named by
        host and pid (see `clean_leftovers`), then renamed into place (an existing checkpoint of
        the same name is replaced)."""
        _check(step, branch)
        given = {"step": step, "branch": branch}
        clash = {k: meta[k] for k in given if k in meta and meta[k] != given[k]}
        if clash:
            raise ConfigError(f"meta {clash} contradicts step={step}, branch={branch!r}")
        sidecar = to_jsonable({"step": step, "branch": branch, **meta})
        name = _name(step, branch)
        final, tmp, old = (self.root / name, self.root / _scratch_name(name, "tmp"),
                           self.root / _scratch_name(name, "old"))
        tmp.mkdir(parents=True)
        try:
            with _no_progress_bars():  # safe_serialization: the only format in transformers 5
                model.save_pretrained(tmp, safe_serialization=True)
            if optimizer is not None:
                self.save_training_state(tmp, optimizer, extra or {})
            write_json_atomic(tmp / SIDECAR, sidecar)
            if final.exists():
                os.replace(final, old)
            os.replace(tmp, final)
        except BaseException:
            if old.exists() and not final.exists():
                os.replace(old, final)  # put the previous checkpoint back
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
        return Checkpoint(step, branch, final, sidecar)

    def list(self, branch: str | None = None) -> list[Checkpoint]:
        """Complete checkpoints on disk, sorted by (step, branch); branch=None: all branches."""
        found = []
        for path in (self.root.iterdir() if self.root.is_dir() else ()):
            m = _NAME.fullmatch(path.name)
            if not m or not (path / SIDECAR).is_file():
                continue
            step, b = int(m.group(1)), m.group(2) or ""
            if path.name == _name(step, b) and branch in (None, b):
                found.append(Checkpoint(step, b, path, read_json(path / SIDECAR)))
        return sorted(found, key=lambda c: (c.step, c.branch))

    def branches(self) -> list[str]:
        """The branches present ("" first when the main trajectory has checkpoints)."""
        return sorted({c.branch for c in self.list()})

    def _branches_present(self) -> str:
        branches = self.branches()
        if not branches:
            return "the store is empty"
        return "branches present: " + ", ".join(map(repr, branches))

    def get(self, step: int, branch: str = "") -> Checkpoint:
        """The checkpoint at (step, branch), or a ConfigError listing what is available."""
        on_branch = self.list(branch)
        for ckpt in on_branch:
            if ckpt.step == step:
                return ckpt
        have = (f"available {branch or 'main'} steps: " + ", ".join(str(c.step) for c in on_branch)
                if on_branch else self._branches_present())
        raise ConfigError(f"no checkpoint step={step} branch={branch!r} in {self.root}; {have}")

    def latest(self, branch: str = "") -> Checkpoint:
        """The checkpoint with the highest step on `branch`."""
        on_branch = self.list(branch)
        if not on_branch:
            raise ConfigError(f"no checkpoint on branch={branch!r} in {self.root}; "
                              + self._branches_present())
        return on_branch[-1]

    def load(self, step: int, branch: str = "", device: str | torch.device = "cpu",
             model_class=None):
        """The model saved at (step, branch) from safetensors, on `device`, in eval mode.
        `model_class` (a PreTrainedModel subclass) replaces AutoModelForCausalLM."""
        path = self.get(step, branch).path
        if model_class is None:
            from transformers import AutoModelForCausalLM as model_class
        with _no_progress_bars():
            model = model_class.from_pretrained(path, use_safetensors=True)
        return model.to(device).eval()

    def __len__(self) -> int:
        return len(self.list())

    def __iter__(self) -> Iterator[Checkpoint]:
        return iter(self.list())

    # --- training state (exact resume)
    # -------------------------------------------------------------
    def save_training_state(self, ckpt_or_folder: Checkpoint | Path | str, optimizer,
                            extra: dict) -> None:
        """Optimizer state and `extra` (RNG states, counters): tensors to
        training_state.safetensors, the rest to training_state.json. The JSON is written last and
        names the tensors file's random token, so a half-written pair is detected on load."""
        folder = Path(getattr(ckpt_or_folder, "path", ckpt_or_folder))
        tensors: dict[str, torch.Tensor] = {}
        layout = {"optimizer": _encode(optimizer.state_dict(), "optimizer", tensors),
                  "extra": _encode(extra, "extra", tensors), "token": uuid.uuid4().hex}
        tmp = folder / f".{STATE_TENSORS}.{layout['token'][:8]}.tmp"
        try:
            save_file(tensors, tmp, metadata={"token": layout["token"]})
            os.replace(tmp, folder / STATE_TENSORS)
        finally:
            tmp.unlink(missing_ok=True)
        write_json_atomic(folder / STATE_JSON, layout)

    def load_training_state(self, folder: Checkpoint | Path | str, optimizer) -> dict:
        """Restore `optimizer` (its param groups must match the saved ones); return `extra`."""
        folder = Path(getattr(folder, "path", folder))
        if not (folder / STATE_JSON).is_file() or not (folder / STATE_TENSORS).is_file():
            raise ConfigError(f"no training state in {folder} (expected {STATE_JSON} and "
                              f"{STATE_TENSORS}; was it saved with save_training_state?)")
        with safe_open(folder / STATE_TENSORS, framework="pt") as f:
            token, tensors = (
                (f.metadata() or {}).get("token"),
                {k: f.get_tensor(k) for k in f.keys()},
            )
        layout = json.loads(
            (folder / STATE_JSON).read_text(), object_hook=lambda d: _decode(d, tensors)
        )
        if layout["token"] != token:
            raise ConfigError(f"training state in {folder}: {STATE_TENSORS} and {STATE_JSON} "
                              "come from different saves (an interrupted save?)")
        optimizer.load_state_dict(layout["optimizer"])
        return layout["extra"]


def _encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able form of `obj`; tensors move to `tensors` under a unique key and leave a marker."""
    if isinstance(obj, torch.Tensor):
        key = f"{path}#{len(tensors)}" if path in tensors else path
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not _MARKERS & obj.keys():
            return {k: _encode(v, f"{path}/{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, path, {}), _encode(v, f"{path}/{k}", tensors)]
                              for k, v in obj.items()]}
    if isinstance(obj, tuple | list):
        items = [_encode(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, np.generic):  # numpy scalars -> Python numbers
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise ConfigError(f"training state {path}={obj!r}: cannot be stored without pickle; accepted: "
                      "tensors, dicts, lists, tuples, str, int, float, bool, None")


def _decode(obj: dict, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of `_encode` for one JSON object (a json.loads object_hook: inner ones first)."""
    if "__tensor__" in obj:
        return tensors.get(obj["__tensor__"])  # None only if the pair mismatches (then rejected)
    if "__tuple__" in obj:
        return tuple(obj["__tuple__"])
    if "__items__" in obj:
        return dict(map(tuple, obj["__items__"]))
    return float(obj["__float__"]) if "__float__" in obj else obj


def _hub_unreachable(timeout: float) -> str | None:
    """Why the hub cannot be reached (HF_HUB_OFFLINE, or a failed connection probe), else None."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"} \
            or constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # behind a proxy a direct probe says nothing; let the request decide
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    outcome: list[str | None] = []

    def probe() -> None:  # in a thread: DNS lookups ignore socket timeouts
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as err:
            outcome.append(f"cannot connect to {host}:{port}: {err}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer from {host}:{port} within {timeout:g} s"


def hub_revisions(repo_id: str, timeout: float = 3.0) -> list[str]:
    """Branches of a hub model repo that name a training step (Pythia's `step1000`), by step."""
    reason = _hub_unreachable(timeout)
    if reason:
        raise ConfigError(f"the Hugging Face hub is unreachable ({reason}), so the revisions of "
                          f"{repo_id!r} cannot be listed; pick a local checkpoint instead "
                          "(CheckpointStore / CheckpointPicker)")
    from huggingface_hub import list_repo_refs

    try:
        refs = list_repo_refs(repo_id)
    except Exception as err:  # not found, gated, network: all mean "no revisions to offer"
        raise ConfigError(f"hub_repo={repo_id!r}: cannot list its branches "
                          f"({type(err).__name__}: {err})") from err
    steps = [(int(m.group(1)), b.name) for b in refs.branches if (m := _HUB_STEP.search(b.name))]
    return [name for _, name in sorted(steps)]
