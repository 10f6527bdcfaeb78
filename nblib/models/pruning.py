"""MLP neurons of a Llama-style LM: their activations (forward hooks) and pruning.

The hidden activation of an MLP neuron is the input of `down_proj` (after the SwiGLU gate, and
after the sink mask in a sink model). Pruning a neuron zeroes its column of `down_proj`, so it
contributes nothing to the residual stream.

    forget = mlp_activations(model, repeated)   # one (d_mlp,) per layer
    general = mlp_activations(model, unique)
    pruned = prune_mlp_neurons(model, specific_neurons(forget, general, count=32))
"""

from __future__ import annotations

import copy

import torch


def mlp_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The MLP of every transformer block of a Llama-style causal LM (model.model.layers[i].mlp)."""
    return [layer.mlp for layer in model.model.layers]


@torch.no_grad()
def mlp_activations(model: torch.nn.Module, sequences: torch.Tensor) -> list[torch.Tensor]:
    """Mean |hidden activation| of every MLP neuron over `sequences` (n, length + 1), read by a
    forward hook on each `down_proj`: one (d_mlp,) per layer. One forward pass over all of them."""
    means, hooks = [], []
    for mlp in mlp_layers(model):
        hooks.append(mlp.down_proj.register_forward_hook(
            lambda module, inputs, output: means.append(inputs[0].abs().mean(dim=(0, 1)))))
    try:
        model(input_ids=sequences[:, :-1])  # hidden_BxLxM per layer, averaged into (d_mlp,)
    finally:
        for hook in hooks:
            hook.remove()
    return means


def specific_neurons(target: list[torch.Tensor], reference: list[torch.Tensor],
                     count: int) -> list[torch.Tensor]:
    """Per layer, the `count` neurons whose activation on the target documents most exceeds that
    on the reference documents (`mlp_activations` of each): indices (count,) per layer."""
    return [torch.topk(t - r, count).indices for t, r in zip(target, reference, strict=True)]


@torch.no_grad()
def prune_mlp_neurons(model: torch.nn.Module, neurons: list[torch.Tensor]) -> torch.nn.Module:
    """A copy of `model` with the given MLP neurons (indices per layer) zeroed out."""
    pruned = copy.deepcopy(model)
    for mlp, indices in zip(mlp_layers(pruned), neurons, strict=True):
        mlp.down_proj.weight[:, indices] = 0.0  # (d_model, d_mlp): the neuron's output column
    return pruned
