"""Tests of nblib.experiments.anti_sycophancy (notebook 12)."""
