"""Classic baselines: closed-form and KNN mattes (and pymatting's CF) on the validation sets.

  python launch.py --experiment=classic [--data_dir=../shared/data/alphamatting]

The validation sets are the ones the DCNN experiments report on (experiments/common.py):
the fixed held-out alphamatting images per trimap kind, or the synthetic validation set.
"""

import ml_collections

from experiments import common


def get_config(mode="cpu"):
  cfg = ml_collections.ConfigDict()
  cfg.kind = "classic"
  cfg.data = common.data_config(mode)
  cfg.methods = ("cf", "knn")
  cfg.include_pymatting = True
  cfg.params = {"cf": {}, "knn": {}}
  return cfg


def sweep(mode="cpu"):
  del mode
  return [{}]
