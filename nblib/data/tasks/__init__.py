"""Synthetic task generators, one module per task family."""
