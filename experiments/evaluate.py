"""Batch-evaluates every checkpoint under one or more work directories on the validation sets.

  python launch.py --experiment=evaluate --config.runs='("runs/ablation_layers",)' \
      [--config.all_steps=True] [--config.symmetries=8] [--data_dir=...]

One process; classic mattes come from the cache the training runs filled. The report has one
row per run (best checkpoint by validation SAD, or every checkpoint with all_steps) plus the
classic baselines, and qualitative figures.
"""

from experiments import common


def get_config(mode="cpu"):
  cfg = common.train_config(mode)
  cfg.kind = "evaluate"
  cfg.runs = ("runs",)
  cfg.all_steps = False
  cfg.symmetries = 1  # > 1: each run's outputs averaged over mirrored / transposed inputs.
  return cfg


def sweep(mode="cpu"):
  del mode
  return [{}]
