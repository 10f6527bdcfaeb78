"""nblib.train.checkpoints: safetensors checkpoints of a tiny Llama, sidecars, branches, atomic
saves, an exact training-state round trip with nothing pickled, and log-spaced step rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

from nblib.config import ConfigError
from nblib.train.checkpoints import (
    STATE_JSON,
    STATE_TENSORS,
    Checkpoint,
    CheckpointStore,
    _scratch_name,
    geometric_steps,
    hub_revisions,
    log_spaced_steps,
)


def tiny_lm(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32))


def assert_no_pickle(folder):
    names = sorted(p.name for p in folder.iterdir())
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"))]
    for path in folder.iterdir():
        head = path.read_bytes()[:2]
        assert head != b"PK" and not head.startswith(b"\x80"), path  # torch.save zip / raw pickle
        if path.suffix == ".safetensors":
            load_file(path)  # parses as safetensors
        elif path.suffix == ".json":
            json.loads(path.read_text())


def test_log_spaced_steps():
    assert log_spaced_steps(1000, 250) == [0, 1, 2, 4, 8, 16, 32, 64, 128, 250, 500, 750, 1000]
    assert log_spaced_steps(1100, 500) == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 500, 1000, 1100]
    assert log_spaced_steps(5, 250) == [0, 1, 2, 4, 5]
    assert log_spaced_steps(0, 10) == [0]
    assert log_spaced_steps(3, 1) == [0, 1, 2, 3]
    with pytest.raises(ConfigError, match="every=0"):
        log_spaced_steps(10, 0)


def test_save_load_gives_identical_logits_from_safetensors(tmp_path):
    model, store = tiny_lm().eval(), CheckpointStore(tmp_path / "ckpts")
    ckpt = store.save(model, 128, {"tokens": 4096, "train_loss": 3.5})
    assert ckpt == Checkpoint(128, "", tmp_path / "ckpts" / "step-000128", {})
    assert ckpt.name == "step-000128" and ckpt.path.is_dir()
    files = {p.name for p in ckpt.path.iterdir()}
    assert {"model.safetensors", "config.json", "nblib.json"} <= files
    assert_no_pickle(ckpt.path)
    loaded = store.load(128)
    assert type(loaded) is LlamaForCausalLM and not loaded.training
    assert type(store.load(128, model_class=LlamaForCausalLM)) is LlamaForCausalLM
    x = torch.randint(0, 64, (2, 10))
    with torch.no_grad():
        assert torch.equal(model(x).logits, loaded(x).logits)


def test_sidecar_round_trips(tmp_path):
    store = CheckpointStore(tmp_path)
    meta = {"tokens": 1 << 20, "train_loss": 2.5, "val_loss": float("nan"),
            "config": {"lr": 1e-3, "widths": [4, 8]}, "note": "warmup done"}
    saved = store.save(tiny_lm(), 64, meta)
    assert json.loads((saved.path / "nblib.json").read_text()) == saved.meta
    assert saved.meta == {"step": 64, "branch": "", **meta, "val_loss": None}  # NaN -> null
    assert store.get(64).meta == saved.meta and list(saved.meta)[:2] == ["step", "branch"]
    with pytest.raises(ConfigError, match="contradicts"):
        store.save(tiny_lm(), 65, {"step": 64})


def test_branches_list_separately_and_get_names_what_is_available(tmp_path):
    store, model = CheckpointStore(tmp_path), tiny_lm()
    for step in (0, 100, 200):
        store.save(model, step, {"tokens": step * 10})
    for step in (200, 100):
        store.save(model, step, {}, branch="decay")
    assert [(c.step, c.branch) for c in store.list()] == [
        (0, ""), (100, ""), (100, "decay"), (200, ""), (200, "decay")]
    assert [c.step for c in store.list("")] == [0, 100, 200]
    assert [c.name for c in store.list("decay")] == ["step-000100-decay", "step-000200-decay"]
    assert store.branches() == ["", "decay"] and len(store) == 5 and list(store) == store.list()
    assert store.latest() == store.get(200) and store.latest("decay").name == "step-000200-decay"
    assert store.get(100, "decay").meta["branch"] == "decay"
    with pytest.raises(ConfigError, match=r"no checkpoint step=300 branch='decay' in .*; "
                                          r"available decay steps: 100, 200"):
        store.get(300, "decay")
    with pytest.raises(ConfigError, match=r"available main steps: 0, 100, 200"):
        store.get(50)
    with pytest.raises(ConfigError, match=r"branch='wsd'.*branches present: '', 'decay'"):
        store.get(100, "wsd")
    with pytest.raises(ConfigError, match="the store is empty"):
        CheckpointStore(tmp_path / "nothing").latest()
    with pytest.raises(ConfigError, match="branch='a/b'"):
        store.save(model, 1, {}, branch="a/b")
    with pytest.raises(ConfigError, match="step=-1"):
        store.save(model, -1, {})


def test_interrupted_saves_are_never_listed(tmp_path):
    store, model = CheckpointStore(tmp_path), tiny_lm()
    good = store.save(model, 10, {"tokens": 1})
    # a save killed mid-way leaves a hidden temp folder; one missing its sidecar is incomplete
    shutil.copytree(good.path, tmp_path / ".step-000020.tmp-1234abcd")
    shutil.copytree(good.path, tmp_path / "step-000030")
    (tmp_path / "step-000030" / "nblib.json").unlink()
    (tmp_path / "notes").mkdir()
    assert store.list() == [good]

    class Exploding(torch.nn.Module):
        def save_pretrained(self, folder, **kwargs):
            (folder / "model.safetensors").write_bytes(b"half")
            raise KeyboardInterrupt  # killed while writing

    with pytest.raises(KeyboardInterrupt):
        store.save(Exploding(), 10, {"tokens": 2})
    assert store.list() == [good] and store.get(10).meta["tokens"] == 1  # the old one survives
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".step-000020.tmp-1234abcd", "notes", "step-000010", "step-000030"]
    assert store.save(model, 10, {"tokens": 3}).meta["tokens"] == 3  # overwrite replaces
    assert [c.meta["tokens"] for c in store.list()] == [3]


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()  # reaped: the pid names no process now
    return proc.pid


def leftover(root, name: str):
    """A scratch folder as a save leaves it (a partial model file inside)."""
    (root / name).mkdir(parents=True)
    (root / name / "model.safetensors").write_bytes(b"half")
    return root / name


def test_leftovers_of_dead_saves_go_on_open_and_running_ones_stay(tmp_path):
    dead = leftover(tmp_path, _scratch_name("step-000010", "tmp", dead_pid()))
    keep = [leftover(tmp_path, _scratch_name("step-000010", "tmp")),  # this live process's save
            leftover(tmp_path, ".step-000010.tmp-elsewhere-1-abcdef12"),  # another host's
            leftover(tmp_path, ".step-000020.tmp-1234abcd"),  # old-style name: no owner known
            leftover(tmp_path, "step-000030")]  # not a scratch folder
    CheckpointStore(tmp_path)
    assert not dead.exists() and all(p.exists() for p in keep)


def test_leftovers_unchanged_past_the_max_age_go_whoever_owns_them(tmp_path):
    store = CheckpointStore(tmp_path)
    foreign = [leftover(tmp_path, ".step-000010.tmp-elsewhere-1-abcdef12"),
               leftover(tmp_path, ".step-000020.tmp-1234abcd")]
    assert store.clean_leftovers() == []  # fresh: perhaps still being written
    time.sleep(0.05)
    assert store.clean_leftovers(max_age_s=0.01) == foreign
    assert not any(p.exists() for p in foreign)


def test_a_save_killed_mid_way_is_cleaned_on_the_next_open(tmp_path):
    script = textwrap.dedent("""
        import os, signal, sys
        from nblib.train.checkpoints import CheckpointStore

        class Killed:
            def save_pretrained(self, folder, **kwargs):
                (folder / "model.safetensors").write_bytes(b"half")
                os.kill(os.getpid(), signal.SIGKILL)

        CheckpointStore(sys.argv[1]).save(Killed(), 5, {})
    """)
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], timeout=120)
    assert run.returncode == -signal.SIGKILL
    (scratch,) = tmp_path.iterdir()
    assert scratch.name.startswith(".step-000005.tmp-")
    assert len(CheckpointStore(tmp_path)) == 0 and list(tmp_path.iterdir()) == []


def test_a_checkpoint_moved_aside_by_a_killed_save_is_put_back(tmp_path):
    good = CheckpointStore(tmp_path).save(tiny_lm(), 10, {"tokens": 1})
    # killed between moving the old checkpoint aside and renaming the new one into place
    os.replace(good.path, tmp_path / _scratch_name(good.name, "old", dead_pid()))
    leftover(tmp_path, _scratch_name(good.name, "tmp", dead_pid()))
    assert CheckpointStore(tmp_path).list() == [good]
    assert sorted(p.name for p in tmp_path.iterdir()) == [good.name]


def adamw(model, lr=1e-2):
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": matrices, "weight_decay": 0.1},
                              {"params": vectors, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))


def train_step(model, optimizer, generator) -> torch.Tensor:
    # batches depend on both a torch.Generator and the global torch RNG: both must be restored
    x = (torch.randint(0, 64, (2, 9), generator=generator) + torch.randint(0, 64, (2, 9))) % 64
    loss = model(x, labels=x).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


def test_training_state_round_trip_resumes_exactly(tmp_path):
    store, model = CheckpointStore(tmp_path), tiny_lm(1).train()
    optimizer, generator = adamw(model), torch.Generator().manual_seed(7)
    for _ in range(3):
        train_step(model, optimizer, generator)
    extra = {"step": 3, "tokens": 54, "note": "resume", "ratio": 0.5, "betas": (0.9, 0.95),
             "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
             "nested": {"ok": True, "best": float("inf"), "ids": [1, 2]}}
    ckpt = store.save(model, 3, {"tokens": 54})
    store.save_training_state(ckpt, optimizer, extra)
    losses = [train_step(model, optimizer, generator) for _ in range(2)]

    torch.manual_seed(123)  # a different global RNG state and a fresh model and optimizer
    fresh = store.load(3).train()
    fresh_opt = adamw(fresh, lr=0.5)
    restored = store.load_training_state(ckpt.path, fresh_opt)
    fresh_gen = torch.Generator()
    fresh_gen.set_state(restored["generator"])
    torch.set_rng_state(restored["torch_rng"])
    resumed = [train_step(fresh, fresh_opt, fresh_gen) for _ in range(2)]

    assert all(torch.equal(a, b) for a, b in zip(losses, resumed, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters(),
                                                 strict=True))
    groups = fresh_opt.param_groups
    assert [g["lr"] for g in groups] == [1e-2, 1e-2] and groups[0]["betas"] == (0.9, 0.95)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    state = fresh_opt.state_dict()["state"]
    assert set(state) == set(optimizer.state_dict()["state"]) and state[0]["step"].item() == 5
    assert {k: restored[k] for k in ("step", "tokens", "note", "ratio", "betas", "nested")} == {
        "step": 3, "tokens": 54, "note": "resume", "ratio": 0.5, "betas": (0.9, 0.95),
        "nested": {"ok": True, "best": float("inf"), "ids": [1, 2]}}
    assert torch.equal(restored["generator"], extra["generator"])

    assert_no_pickle(ckpt.path)
    tensors = load_file(ckpt.path / STATE_TENSORS)
    assert "optimizer/state/0/exp_avg" in tensors and "extra/torch_rng" in tensors
    markers = re.findall(r'"__tensor__": "([^"]+)"', (ckpt.path / STATE_JSON).read_text())
    assert sorted(markers) == sorted(tensors)  # every tensor is in the safetensors file, once
    assert len(tensors) == 3 * len(list(model.parameters())) + 2  # step, exp_avg(_sq); 2 RNGs


def test_training_state_saved_with_the_checkpoint_and_mismatches_detected(tmp_path):
    store, model = CheckpointStore(tmp_path), tiny_lm()
    optimizer = adamw(model)
    train_step(model, optimizer, torch.Generator().manual_seed(0))
    a = store.save(model, 1, {}, optimizer=optimizer, extra={"step": 1})
    assert {STATE_TENSORS, STATE_JSON} <= {p.name for p in a.path.iterdir()}
    assert store.load_training_state(a, adamw(tiny_lm())) == {"step": 1}
    b = store.save(model, 2, {}, optimizer=optimizer, extra={"step": 2})
    shutil.copy(b.path / STATE_TENSORS, a.path / STATE_TENSORS)  # half of a later save
    with pytest.raises(ConfigError, match="different saves"):
        store.load_training_state(a, adamw(tiny_lm()))
    with pytest.raises(ConfigError, match="no training state"):
        store.load_training_state(store.save(model, 3, {}), adamw(tiny_lm()))
    with pytest.raises(ConfigError, match=r"extra/when=.*without pickle"):
        store.save_training_state(b, optimizer, {"when": object()})


def test_hub_revisions_offline_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"hub is unreachable \(HF_HUB_OFFLINE is set\).*"
                                          r"'EleutherAI/pythia-14m'.*local checkpoint"):
        hub_revisions("EleutherAI/pythia-14m")


@pytest.mark.parametrize("total, n, first", [(100, 10, 1), (1000, 12, 10), (2955, 31, 29.55),
                                             (500, 20, 0.3), (7, 30, 1), (4096, 13, 1.0),
                                             (300, 8, 3.0), (1, 5, 1)])
def test_geometric_steps_reproduce_the_rounded_geomspace(total, n, first):
    steps = geometric_steps(total, n, first)
    assert steps == sorted({max(1, round(s)) for s in np.geomspace(max(1, first), total, n)})
    assert steps[0] == max(1, round(first)) and steps[-1] == total  # the endpoints
    assert len(steps) == len(set(steps)) <= n and steps == sorted(steps)
    assert all(type(s) is int for s in steps)


def test_geometric_steps_spacing_and_edge_cases():
    assert geometric_steps(1000, 4) == [1, 10, 100, 1000]
    assert geometric_steps(1000, 4, first=10) == [10, 46, 215, 1000]
    assert geometric_steps(50, 1) == [50] and geometric_steps(1, 1) == [1]
    assert geometric_steps(3, 10) == [1, 2, 3]  # rounding merges steps: fewer than n
    assert geometric_steps(100, 5, first=0.01) == geometric_steps(100, 5)  # raised to 1


@pytest.mark.parametrize("args", [(0, 5, 1), (10, 0, 1), (10, 5, 0), (10, 5, -1), (10, 5, 11)])
def test_geometric_steps_bad_arguments_are_named(args):
    with pytest.raises(ConfigError, match="geometric_steps"):
        geometric_steps(*args)
