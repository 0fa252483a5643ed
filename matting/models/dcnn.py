"""The DCNN matting network (paper §3.1, Fig. 4) and its config.

F1: a 9x9 convolution with no bias (Eq. 3 sets b1 = 0) and ReLU analyses local structure;
F2..F5: 1x1 convolutions with bias and ReLU remap the responses; F6: a 5x5 convolution
reconstructs alpha (Eq. 4). Not from the paper, `gated=True` adds a gate: a second 5x5
convolution beside F6 gives per-pixel softmax weights over F6's alpha and the input mattes
(every channel after RGB), and the output is that convex combination, so where the network's
own alpha is not to be trusted it can fall back on its inputs. All convolutions are VALID,
so a 27x27 training patch gives the central 15x15 alpha and a whole image, zero-padded by 6
pixels, gives a full-size matte.
Each convolution is computed by the formulation `conv_impl` picks (models/convolutions.py).
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from matting.models import architecture
from matting.models.convolutions import KERNEL_INITS, Conv, auto_conv_impl


def default_model_config():
  """The paper's network (Fig. 4); `DCNN(**cfg)` builds it."""
  return ml_collections.ConfigDict({
      "num_remap_layers": 4,
      "remap_widths": (64, 64, 64, 32),
      "first_width": 64,
      "first_kernel": 9,
      "last_kernel": 5,
      "conv_impl": "auto",
      "kernel_init": "glorot_uniform",
      "gated": False,
  })


def make_model(model_config):
  """DCNN from a model config (a ConfigDict or a dict of DCNN fields)."""
  fields = dict(model_config)
  fields["remap_widths"] = tuple(fields["remap_widths"])
  return DCNN(**fields)



class DCNN(nn.Module):
  """The deep CNN of Fig. 4: (B, H, W, C) inputs -> (B, H-2m, W-2m, 1) alpha, m = `margin`.

  C comes from the data (5 for normalised RGB + closed-form + KNN alphas). `train` only
  chooses the faster formulation under conv_impl='auto'; the function is the same.
  """
  num_remap_layers: int = 4
  remap_widths: Sequence[int] = (64, 64, 64, 32)
  first_width: int = 64
  first_kernel: int = 9
  last_kernel: int = 5
  conv_impl: str = "auto"
  kernel_init: str = "glorot_uniform"
  gated: bool = False

  def __post_init__(self):
    architecture.check_fields(self.num_remap_layers, self.remap_widths, self.first_kernel,
                              self.last_kernel, self.conv_impl, self.kernel_init,
                              gated=self.gated)
    super().__post_init__()

  @property
  def margin(self):
    """Pixels lost per side by the VALID convolutions (architecture.margin)."""
    return architecture.margin(self.first_kernel, self.last_kernel)

  def _conv(self, name, in_features, features, kernel_size, use_bias, train):
    if self.conv_impl == "flax":
      return nn.Conv(features, (kernel_size, kernel_size), padding="VALID", use_bias=use_bias,
                     kernel_init=KERNEL_INITS[self.kernel_init], name=name)
    impl = self.conv_impl
    if impl == "auto":
      impl = auto_conv_impl(kernel_size, in_features, features, train)
    return Conv(features, kernel_size, use_bias, impl, self.kernel_init, name=name)

  @nn.compact
  def __call__(self, inputs, train=False):
    if inputs.ndim != 4:
      raise ValueError(f"DCNN expects (B, H, W, C) inputs, got shape {inputs.shape}")
    widths = (inputs.shape[-1], self.first_width) + tuple(self.remap_widths)
    x = nn.relu(self._conv("structure", widths[0], widths[1], self.first_kernel, False,
                           train)(inputs))
    for n in range(1, self.num_remap_layers + 1):
      x = nn.relu(self._conv(f"remap_{n}", widths[n], widths[n + 1], 1, True, train)(x))
    alpha = self._conv("reconstruction", widths[-1], 1, self.last_kernel, True, train)(x)
    if not self.gated:
      return alpha
    mixed = architecture.gate_outputs(inputs.shape[-1])
    m = self.margin
    mattes = inputs[:, m:inputs.shape[1] - m, m:inputs.shape[2] - m, architecture.RGB_CHANNELS:]
    logits = self._conv(architecture.GATE, widths[-1], mixed, self.last_kernel, True, train)(x)
    weights = jax.nn.softmax(logits, axis=-1)
    return jnp.sum(weights * jnp.concatenate([alpha, mattes], axis=-1), axis=-1, keepdims=True)
