"""Full-image DCNN inference (§4.1): zero padding, known pixels kept, two engines.

The input is zero-padded by the network's margin (6 px for the paper's net) so the VALID
convolutions give a full-size matte. The forward pass runs in JAX (models/jax_forward.py:
jitted, haloed tiles; any backend) or in NumPy (models/numpy_forward.py: CPU, no JAX import
or compilation, only at the unknown pixels): the same function within float32 rounding.
Optionally the output is averaged over mirrored and transposed copies of the input
(`symmetries`, test-time augmentation: n forward passes; 8 gave 0.1-3.3 % lower SAD on the
far validation sets, BUILD_NOTES.md issue 13).
"""

import numpy as np

from matting.data.trimap import trimap_masks
from matting.models import architecture

ENGINES = ("jax", "numpy")
# How many of the square's eight symmetries a prediction averages over: the identity; with
# the left-right mirror; with the up-down mirror and both (a half turn); with all of those
# transposed (rows and columns swapped).
SYMMETRIES = (1, 2, 4, 8)


def symmetries_problem(symmetries):
  """Why `symmetries` is not a count run_network takes, or None if it is."""
  if (isinstance(symmetries, bool) or not isinstance(symmetries, (int, np.integer))
      or symmetries not in SYMMETRIES):
    return f"must be one of {SYMMETRIES}, got {symmetries!r}"
  return None


def check_symmetries(symmetries):
  """Raises ValueError unless `symmetries` is a count run_network takes."""
  problem = symmetries_problem(symmetries)
  if problem:
    raise ValueError(f"symmetries {problem}")


def symmetry(array, k):
  """The k-th symmetry (0 <= k < 8) of an (H, W, ...) array: bit 0 mirrors left-right, bit 1
  up-down, bit 2 then swaps rows and columns. A view, no copy."""
  if k & 1:
    array = array[:, ::-1]
  if k & 2:
    array = array[::-1]
  return array.swapaxes(0, 1) if k & 4 else array


def inverse_symmetry(array, k):
  """Undoes `symmetry(., k)`."""
  if k & 4:
    array = array.swapaxes(0, 1)
  if k & 2:
    array = array[::-1]
  return array[:, ::-1] if k & 1 else array


def run_network(params, model_config, inputs, keep_known=None, tile_pixels=None, engine="jax",
                symmetries=1):
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
    symmetries: 1, 2, 4 or 8 (`SYMMETRIES`): the mean of the network's outputs on that many
      mirrored / transposed copies of the input, each mapped back (that many forward passes).
  """
  if engine not in ENGINES:
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
  check_symmetries(symmetries)
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

    def forward(padded, wanted):
      return numpy_forward.forward_wanted(params, padded, wanted)
  else:
    from matting.models import jax_forward

    def forward(padded, wanted):
      return jax_forward.forward(params, padded, model_config, wanted, tile_pixels)
  alpha = forward(padded, unknown)
  if symmetries > 1:
    alpha = np.array(alpha, np.float32)  # Writable (JAX's arrays are not).
    for k in range(1, symmetries):
      alpha += inverse_symmetry(forward(symmetry(padded, k),
                                        None if unknown is None else symmetry(unknown, k)), k)
    alpha /= np.float32(symmetries)
  alpha = np.clip(alpha, 0.0, 1.0)
  if keep_known is not None:
    alpha = np.where(fg, 1.0, np.where(bg, 0.0, alpha)).astype(np.float32)
  return alpha
