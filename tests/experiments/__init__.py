"""Tests of the per-notebook packages, mirroring nblib/experiments/."""
