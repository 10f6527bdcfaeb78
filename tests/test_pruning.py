"""nblib.models.pruning: MLP activations by forward hooks, the most specific neurons, pruning."""

import torch

from nblib.models.lm import LMShape, build_lm
from nblib.models.pruning import (
    mlp_activations,
    mlp_layers,
    prune_mlp_neurons,
    specific_neurons,
)
from nblib.models.sinks import build_sink_lm, set_sink_masks

SHAPE = LMShape(vocab_size=40, d_model=16, n_layers=2, n_heads=2, context=12, mlp_ratio=6.0)


def seqs(seed, n=5):
    return torch.randint(0, 40, (n, 13), generator=torch.Generator().manual_seed(seed))


def test_activations_are_the_mean_absolute_hidden_units_per_layer():
    model = build_lm(SHAPE, seed=0).eval()
    x = seqs(0)
    acts = mlp_activations(model, x)
    assert len(acts) == 2 and all(a.shape == (SHAPE.d_mlp,) for a in acts)
    inputs = []  # by hand: the first MLP's input, then its SwiGLU hidden units
    hook = mlp_layers(model)[0].register_forward_hook(lambda m, i, o: inputs.append(i[0]))
    with torch.no_grad():
        model(input_ids=x[:, :-1])
        hook.remove()
        mlp = mlp_layers(model)[0]
        inner = mlp.act_fn(mlp.gate_proj(inputs[0])) * mlp.up_proj(inputs[0])  # (B, L, d_mlp)
    assert torch.allclose(acts[0], inner.abs().mean(dim=(0, 1)), atol=1e-5)
    assert all(not m.down_proj._forward_hooks for m in mlp_layers(model))  # hooks removed


def test_dropped_sinks_have_zero_activation():
    model = build_sink_lm(SHAPE, n_sink=16, seed=0)
    set_sink_masks(model, None)
    acts = mlp_activations(model, seqs(1))
    assert all((a[-16:] == 0).all() and (a[:-16] > 0).all() for a in acts)


def test_specific_neurons_are_the_largest_differences():
    target = [torch.tensor([0.0, 5.0, 1.0, 3.0]), torch.tensor([1.0, 1.0, 1.0, 1.0])]
    reference = [torch.tensor([0.0, 1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.5, 3.0])]
    picked = specific_neurons(target, reference, 2)
    assert [sorted(p.tolist()) for p in picked] == [[1, 3], [0, 2]]


def test_pruning_zeroes_the_neurons_output_and_leaves_the_original_alone():
    model = build_lm(SHAPE, seed=0).eval()
    x = seqs(2)
    before = model(input_ids=x[:, :-1]).logits
    neurons = [torch.tensor([0, 3]), torch.tensor([5])]
    pruned = prune_mlp_neurons(model, neurons)
    for mlp, idx in zip(mlp_layers(pruned), neurons, strict=True):
        assert (mlp.down_proj.weight[:, idx] == 0).all()
    assert torch.equal(model(input_ids=x[:, :-1]).logits, before)  # a copy was pruned
    assert not torch.allclose(pruned(input_ids=x[:, :-1]).logits, before)
    assert (mlp_layers(model)[0].down_proj.weight[:, [0, 3]] != 0).any()
    with torch.no_grad():  # the same as scrambling those neurons' inputs: they no longer count
        for mlp, idx in zip(mlp_layers(pruned), neurons, strict=True):
            mlp.up_proj.weight[idx] = torch.randn(len(idx), 16)
    again = pruned(input_ids=x[:, :-1]).logits
    assert torch.allclose(again, prune_mlp_neurons(model, neurons)(input_ids=x[:, :-1]).logits)
