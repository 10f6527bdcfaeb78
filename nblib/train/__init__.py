"""Training: a Trainer for tiny causal LMs, schedules,
objectives, callbacks and a checkpoint store."""
