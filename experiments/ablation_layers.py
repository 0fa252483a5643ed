"""Table 1: the effect of the number of nonlinear 1x1 remap layers (1, 4, 8; 64 channels).

All points share data, init seed, learning rate and steps; only the depth changes.
  python launch.py --experiment=ablation_layers [--mode=cpu] [--data_dir=...]
"""

from experiments import common

LAYERS = (1, 4, 8)


def get_config(mode="cpu"):
  cfg = common.train_config(mode)
  cfg.model.num_remap_layers = 4
  cfg.model.remap_widths = (64,) * 4
  return cfg


def sweep(mode="cpu"):
  del mode
  return [{"name": f"layers_{n}", "model.num_remap_layers": n, "model.remap_widths": (64,) * n}
          for n in LAYERS]
