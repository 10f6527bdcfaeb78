"""Notebook 08's GRPO batches: each step draws training-range problems of a^b mod c, samples a
group of completions per problem with the KV-cached sampler at T = 1, rewards the correct final
answer (minus an optional cost per token) and logs which algorithm each completion wrote. The
loss is `nblib.train.grpo`'s."""

from __future__ import annotations

import torch

from nblib.data.tasks.modexp import ModExpTask
from nblib.eval.decoding import generate
from nblib.train.grpo import group_advantages


class Rollouts:
    """The Trainer's batches for GRPO: `__call__(generator)` draws `prompts` training-range
    problems (from its own prompt stream, the same for every model given `prompt_seed`), samples
    `group` completions each from `model` with the Trainer's generator, and returns
    (sequences (N, T), mask (N, Tc), advantages (N,), rewards (N,)), N = prompts × group.
    `log` gets one row per step: mean reward, accuracy, algorithm shares, length, the share of
    groups with any signal."""

    def __init__(self, task: ModExpTask, model, prompts: int, group: int, prompt_seed: int,
                 advantage: str = "grpo", length_cost: float = 0.0):
        self.task, self.model, self.prompts, self.group = task, model, prompts, group
        self.advantage, self.length_cost = advantage, length_cost
        self.prompt_gen = torch.Generator().manual_seed(prompt_seed)
        self.max_new = task.max_completion_len("train")
        self.log: list[dict] = []

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        task, g = self.task, self.group
        problems = task.problems(self.prompts, "train", self.prompt_gen)  # (P, 3)
        prompts = task.prompts(problems).repeat_interleave(g, 0)  # (N, Tp)
        device = next(self.model.parameters()).device
        completions = generate(self.model, prompts.to(device), self.max_new, 1.0, generator,
                               stop_id=task.vocab.stop_id, pad_id=task.vocab.pad_id,
                               batch_size=len(prompts), cached=True).cpu()  # (N, Tc)
        graded = task.grade(problems.repeat_interleave(g, 0), completions)
        correct = graded["reward"].float()  # (N,)
        rewards = correct - self.length_cost * graded["length"].float()  # (N,)
        adv = group_advantages(rewards.view(-1, g), self.advantage).reshape(-1)  # (N,)
        positions = torch.arange(completions.shape[1])[None]  # (1, Tc)
        mask = positions < graded["length"][:, None]  # (N, Tc): tokens up to the stop
        algorithms = graded["algorithm"]
        self.log.append({
            "reward": float(rewards.mean()), "accuracy": float(correct.mean()),
            **{f"share_{a}": algorithms.count(a) / len(algorithms)
               for a in ("linear", "binary", "other")},
            "length": float(graded["length"].float().mean()),
            "signal": float((rewards.view(-1, g).std(1) > 0).float().mean())})
        return torch.cat([prompts, completions], 1), mask, adv, rewards
