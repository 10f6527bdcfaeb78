"""Per-notebook configs and steps, importable so tests can run them at tiny size."""
