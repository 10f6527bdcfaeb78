"""Tests of nblib.experiments.roll_the_dice (notebook 16)."""
