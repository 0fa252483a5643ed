"""Loss and optimiser at a CPU budget: the paper's SGD recipe against faster ones.

The standard network (rgb_cf_knn, 4 remap layers) on the same data, seed and number of steps;
only the loss, optimiser and learning-rate schedule change. The paper's recipe (Euclidean
loss, SGD with momentum 0.9, lr 1e-5 for Caffe's summed loss = 1.125e-3 for ours, constant) is
the `sgd_paper` point.
  python launch.py --experiment=training_recipe [--mode=cpu] [--data_dir=...]
"""

from experiments import common
from matting.training.optim import CAFFE_EUCLIDEAN_LR_FACTOR

PAPER_LR = 1e-5 * CAFFE_EUCLIDEAN_LR_FACTOR


def get_config(mode="cpu"):
  return common.train_config(mode)


def sweep(mode="cpu"):
  del mode
  adam = {"train.optimizer": "adam", "train.lr": 1e-3, "train.schedule": "warmup_cosine"}
  return [
      {"name": "adam_l2", **adam, "train.loss": "l2"},
      {"name": "adam_l1", **adam, "train.loss": "l1"},
      {"name": "adam_charbonnier", **adam, "train.loss": "charbonnier"},
      {"name": "sgd_paper", "train.optimizer": "sgd", "train.lr": PAPER_LR,
       "train.schedule": "constant", "train.loss": "l2"},
      {"name": "sgd_lr_x10", "train.optimizer": "sgd", "train.lr": 10 * PAPER_LR,
       "train.schedule": "warmup_cosine", "train.loss": "l2"},
  ]
