"""Full-image DCNN inference (§4.1): zero padding, known pixels kept, two engines.

The input is zero-padded by the network's margin (6 px for the paper's net) so the VALID
convolutions give a full-size matte. The forward pass runs in JAX (models/jax_forward.py:
jitted, haloed tiles; any backend) or in NumPy (models/numpy_forward.py: CPU, no JAX import
or compilation, only at the unknown pixels): the same function within float32 rounding.
"""

import numpy as np

from matting.data.trimap import trimap_masks
from matting.models import architecture

ENGINES = ("jax", "numpy")


def run_network(params, model_config, inputs, keep_known=None, tile_pixels=None, engine="jax"):
  """Full-resolution alpha (H, W) float32 in [0, 1] from an (H, W, C) input stack (§4.1).

  The input is zero-padded by `margin` pixels (6 = (27 - 15) / 2 for the paper's net) and
  run through the network. With `keep_known`, known pixels keep their trimap value and the
  network runs only where it is needed for the unknown ones.

  Args:
    params: the model variables, {'params': ...}, as from `DCNN.init` or `TrainState.params`.
    model_config: DCNN fields, e.g. `default_model_config()`.
    inputs: (H, W, C) input stack.
    keep_known: None, or an (H, W) trimap whose known pixels keep their trimap value.
    tile_pixels: the JAX engine's output pixels per forward pass (`jax_forward.forward`).
    engine: 'jax' or 'numpy' (see the module docstring).
  """
  if engine not in ENGINES:
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
  inputs = np.asarray(inputs, dtype=np.float32)
  if inputs.ndim != 3:
    raise ValueError(f"inputs must be (H, W, C), got shape {inputs.shape}")
  height, width = inputs.shape[:2]
  margin = architecture.margin(model_config["first_kernel"], model_config["last_kernel"])
  padded = np.pad(inputs, ((margin, margin), (margin, margin), (0, 0)))
  if keep_known is not None and np.shape(keep_known) != (height, width):
    raise ValueError(f"keep_known trimap shape {np.shape(keep_known)} != inputs' "
                     f"{(height, width)}")
  fg, bg, unknown = trimap_masks(keep_known) if keep_known is not None else (None,) * 3
  if engine == "numpy":
    from matting.models import numpy_forward
    alpha = numpy_forward.forward_wanted(params, padded, unknown)
  else:
    from matting.models import jax_forward
    alpha = jax_forward.forward(params, padded, model_config, unknown, tile_pixels)
  alpha = np.clip(alpha, 0.0, 1.0)
  if keep_known is not None:
    alpha = np.where(fg, 1.0, np.where(bg, 0.0, alpha)).astype(np.float32)
  return alpha
