"""Benchmark: notebook 10's attention variants, as ratios against MHA in one process.

For every variant of the notebook's default config (matched parameters, `mla_vs_mha.plan`):
(1) training throughput (tokens/s of a full optimizer step through nblib's Trainer), and (2) a
cached decoding step (tokens/s of one new token per sequence against a `transformers`
DynamicCache filled with `--prefix` tokens; MLA caches its latent and expands it every step, the
`transformers` DeepseekV3 path, not the absorbed one), each against MHA measured in alternating
rounds (`timing.interleaved`), with the KV-cache elements per token per layer next to it. Writes
benchmarks/results/attention_variants.json. About 2 minutes on an idle 2-core machine. Run:
`make bench` (or `python benchmarks/attention_variants.py`).
"""

from __future__ import annotations

import argparse
import functools
import time

import torch
from timing import interleaved, machine, write_record
from transformers import DynamicCache

from nblib.config import build
from nblib.experiments import mla_vs_mha as mla
from nblib.experiments.mla_vs_mha.experiment import build_model
from nblib.train.trainer import TrainConfig, Trainer


def train_loop(cfg, name: str, steps: int) -> tuple[float, float]:
    """(tokens, seconds) of `steps` training steps of one variant on random tokens."""
    model = build_model(cfg, name, 0)
    x = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.context + 1))  # (B, T + 1)
    trainer = Trainer(model, TrainConfig(log_every=10**9), lambda g: (x[:, :-1], x[:, 1:]))
    trainer.fit(1)  # warm up
    start = time.perf_counter()
    trainer.fit(1 + steps)
    return steps * cfg.batch_size * cfg.context, time.perf_counter() - start


@torch.no_grad()
def decode_loop(cfg, name: str, steps: int, prefix: int, batch: int) -> tuple[float, float]:
    """(tokens, seconds) of `steps` cached decoding steps after a `prefix`-token prefill."""
    model = build_model(cfg, name, 0).eval()
    ids = torch.randint(0, cfg.vocab_size, (batch, prefix + steps))  # (B, prefix + steps)
    cache = DynamicCache(config=model.config)
    model(input_ids=ids[:, :prefix], cache=cache, use_cache=True)
    start = time.perf_counter()
    for t in range(prefix, prefix + steps):
        model(input_ids=ids[:, t:t + 1], cache=cache, use_cache=True)
    return steps * batch, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed run")
    parser.add_argument("--decode-steps", type=int, default=32, help="decoded tokens per run")
    parser.add_argument("--prefix", type=int, default=256, help="cached tokens before decoding")
    parser.add_argument("--batch", type=int, default=8, help="sequences decoded at once")
    parser.add_argument("--min-s", type=float, default=1.0, help="least timed seconds per loop")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved A/B rounds")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: by load)")
    args = parser.parse_args()
    cfg = build(mla.MLAConfig, {"interactive": False, "context": max(64, args.prefix
                                                                      + args.decode_steps)})
    train_cfg = build(mla.MLAConfig, {"interactive": False})
    record = {"machine": machine(args.threads), "config": {"d_model": cfg.d_model,
              "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "prefix": args.prefix,
              "batch": args.batch}, "variants": {}}
    plan = mla.plan(train_cfg).set_index("variant")
    print(f"{'variant':<18}{'cache/tok':>10}{'train ratio':>13}{'decode tok/s':>14}"
          f"{'decode ratio':>14}")
    for name in plan.index:
        train = interleaved(functools.partial(train_loop, train_cfg, "mha"),
                            functools.partial(train_loop, train_cfg, name), args.steps,
                            args.rounds, args.min_s)
        decode = interleaved(
            functools.partial(decode_loop, cfg, "mha", prefix=args.prefix, batch=args.batch),
            functools.partial(decode_loop, cfg, name, prefix=args.prefix, batch=args.batch),
            args.decode_steps, args.rounds, args.min_s)
        cache = int(plan.loc[name, "cache_per_token"])
        record["variants"][name] = {"cache_per_token": cache, "train": train, "decode": decode}
        print(f"{name:<18}{cache:>10}{train['ratio']:>13.3f}{decode['target']:>14.0f}"
              f"{decode['ratio']:>14.3f}", flush=True)
    write_record("attention_variants", record)


if __name__ == "__main__":
    main()
