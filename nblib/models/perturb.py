"""Weight perturbations that probe how sensitive a trained model is: relative Gaussian noise and
round-to-nearest (RTN) post-training quantization. Both return modified copies."""

from __future__ import annotations

import copy

import torch


@torch.no_grad()
def add_relative_noise(model: torch.nn.Module, sigma: float,
                       generator: torch.Generator) -> torch.nn.Module:
    """A copy of `model` with N(0, (sigma·RMS(W))²) added to every parameter tensor W
    (Springer et al. 2025's Gaussian perturbation, scaled per tensor so that every layer is
    disturbed by the same relative amount). Noise is drawn on the CPU from `generator`."""
    noisy = copy.deepcopy(model)
    for param in noisy.parameters():
        rms = param.float().pow(2).mean().sqrt()
        noise = torch.randn(param.shape, generator=generator)  # (*param.shape,)
        param.add_(noise.to(param.device, param.dtype) * sigma * rms)
    return noisy


@torch.no_grad()
def quantize_rtn(model: torch.nn.Module, bits: int = 4) -> torch.nn.Module:
    """A copy of `model` whose weight matrices (dim >= 2, embeddings included) are rounded to
    `bits`-bit symmetric integers with one scale per output channel (row), then dequantized.
    Norm gains and biases stay in full precision, as in weight-only PTQ."""
    if not 2 <= bits <= 16:
        raise ValueError(f"bits={bits}: must be between 2 and 16")
    levels = 2 ** (bits - 1) - 1  # e.g. 7 for 4-bit: integers in [-7, 7]
    quantized = copy.deepcopy(model)
    for param in quantized.parameters():
        if param.dim() < 2:
            continue
        rows = param.reshape(param.shape[0], -1)  # (out_channels, in_features)
        scale = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / levels  # (out, 1)
        param.copy_((torch.round(rows / scale).clamp(-levels, levels) * scale).reshape(param.shape))
    return quantized
