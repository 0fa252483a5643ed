"""Classic baselines: closed-form and KNN mattes (and pymatting's CF) scored on a data set.

  python launch.py --experiment=classic [--data_dir=../shared/data/alphamatting]
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
