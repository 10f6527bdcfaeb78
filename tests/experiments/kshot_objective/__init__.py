"""Tests of nblib.experiments.kshot_objective (notebook 04)."""
