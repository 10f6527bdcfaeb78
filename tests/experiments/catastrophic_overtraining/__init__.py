"""Tests of nblib.experiments.catastrophic_overtraining (notebook 14)."""
