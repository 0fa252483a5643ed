"""The standard DCNN (normalised RGB + closed-form + KNN, 4 remap layers) trained alone.

  python launch.py --experiment=dcnn [--mode=smoke|cpu|paper] [--data_dir=...]
"""

from experiments import common


def get_config(mode="cpu"):
  return common.train_config(mode)


def sweep(mode="cpu"):
  del mode
  return [{}]
