"""A tiny DCNN weights file for tests of the prediction front ends (folders, server, page)."""

import jax
import jax.numpy as jnp

from experiments.common import train_config
from matting.inputs import stacks
from matting.models import weights
from matting.models.dcnn import make_model


def write_tiny_weights(path, seed=0, combination=None):
  """Writes a randomly initialised 1-remap-layer, width-8 DCNN (inputs: `combination`, default
  the smoke config's) as a weights file; returns path."""
  cfg = train_config("smoke")
  cfg.model.update(num_remap_layers=1, remap_widths=(8,), first_width=8)
  if combination is not None:
    cfg.inputs.combination = combination
  channels = stacks.num_channels(cfg.inputs.combination)
  params = make_model(cfg.model).init(jax.random.key(seed), jnp.zeros((1, 16, 16, channels)))
  weights.save_weights(path, params, cfg, {"command": "tests/tiny_model.py"})
  return str(path)
