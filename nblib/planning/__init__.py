"""Planners that act in a true world by planning inside a simulator: `cem` (the cross-entropy
method, model-predictive) and `best_of_n` (random shooting, N candidate plans picked by a judge)."""
