"""Evaluation: held-out loss of language models, sampling and task metrics."""
