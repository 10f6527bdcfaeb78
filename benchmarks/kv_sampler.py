"""Benchmark: the KV-cached sampler against the uncached one, as a ratio in one process.

`eval.decoding.generate` with `cached=True` (a `transformers` DynamicCache, one new token per
forward pass) against `cached=False` (the whole sequence again every token), on notebook 06's
default model (d_model 64, 2 blocks, 4 heads, the addition vocabulary) and on a longer generation
(`--prompt` prompt tokens, `--new` new tokens), both at temperature 1 with the same generator, in
alternating rounds (`timing.interleaved`); units are generated tokens per second. It first checks
that both paths decode the same tokens. Writes benchmarks/results/kv_sampler.json. About a minute
on an idle 2-core machine. Run: `python benchmarks/kv_sampler.py`.
"""

from __future__ import annotations

import argparse
import functools
import time

import torch
from timing import interleaved, machine, write_record

from nblib.data.tasks.addition import AdditionTask
from nblib.eval.decoding import generate
from nblib.models.lm import LMShape, build_lm


def sample_loop(model, prompts: torch.Tensor, new: int, cached: bool,
                steps: int) -> tuple[float, float]:
    """(tokens, seconds) of `steps` sampling calls of `new` tokens for every prompt."""
    start = time.perf_counter()
    for i in range(steps):
        generate(model, prompts, new, 1.0, torch.Generator().manual_seed(i),
                 batch_size=len(prompts), sampler="multinomial", cached=cached)
    return steps * len(prompts) * new, time.perf_counter() - start


def setting(name: str, model, prompts: torch.Tensor, new: int, args) -> dict:
    same = torch.equal(*(generate(model, prompts[:64], new, 1.0, torch.Generator().manual_seed(0),
                                  sampler="multinomial", cached=c) for c in (False, True)))
    if not same:
        raise AssertionError(f"{name}: cached and uncached sampling decoded different tokens")
    result = interleaved(functools.partial(sample_loop, model, prompts, new, False),
                         functools.partial(sample_loop, model, prompts, new, True), 1,
                         args.rounds, args.min_s)
    print(f"{name:<28}{result['reference']:>16.0f}{result['target']:>14.0f}"
          f"{result['ratio']:>10.2f}", flush=True)
    return {"prompt_len": prompts.shape[1], "new_tokens": new, "rows": len(prompts),
            "same_tokens": same, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2048, help="sequences sampled at once")
    parser.add_argument("--prompt", type=int, default=64, help="prompt tokens (long setting)")
    parser.add_argument("--new", type=int, default=64, help="new tokens (long setting)")
    parser.add_argument("--min-s", type=float, default=1.0, help="least timed seconds per loop")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved A/B rounds")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: by load)")
    args = parser.parse_args()
    record = {"machine": machine(args.threads), "settings": {}}
    task = AdditionTask(3, 512)
    model = build_lm(LMShape(vocab_size=task.vocab.size, d_model=64, n_layers=2, n_heads=4,
                             context=args.prompt + args.new), seed=0).eval()
    pairs = task.test_pairs().repeat(args.rows // 512 + 1, 1)[:args.rows]
    long_prompts = torch.randint(0, 10, (args.rows // 8, args.prompt),
                                 generator=torch.Generator().manual_seed(0))
    print(f"{'setting':<28}{'uncached tok/s':>16}{'cached tok/s':>14}{'ratio':>10}")
    record["settings"]["addition_8_prompt_5_new"] = setting(
        "addition (8 + 5 tokens)", model, task.prompts(pairs), task.answer_len + 1, args)
    record["settings"]["long"] = setting(
        f"long ({args.prompt} + {args.new} tokens)", model, long_prompts, args.new, args)
    write_record("kv_sampler", record)


if __name__ == "__main__":
    main()
