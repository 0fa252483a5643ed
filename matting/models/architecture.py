"""The DCNN's architecture as plain data: field checks, margin and parameter shapes.

What the Flax model (models/dcnn.py) checks when it is built, and what the weights check and
the NumPy forward pass (models/numpy_forward.py) need without importing JAX or Flax.
"""

from matting.errors import MattingInputError
from matting.inputs import stacks

CONV_IMPLS = ("auto", "lax", "im2col", "shift_add", "flax")  # models/convolutions.py
KERNEL_INIT_NAMES = ("glorot_uniform", "caffe_xavier")  # convolutions.KERNEL_INITS


def check_fields(num_remap_layers, remap_widths, first_kernel, last_kernel, conv_impl="auto",
                 kernel_init="glorot_uniform", first_width=64, gated=False):
  """Raises MattingInputError (naming the model.* field) for a config no DCNN can have, and
  TypeError for an unknown or missing field (as DCNN(**fields) does)."""
  del first_width  # Any width is a DCNN.
  if not isinstance(gated, bool):
    raise MattingInputError(f"must be True or False, got {gated!r}", field="model.gated")
  if len(remap_widths) != num_remap_layers:
    raise MattingInputError(f"has {len(remap_widths)} entries but model.num_remap_layers "
                            f"is {num_remap_layers}", field="model.remap_widths")
  if conv_impl not in CONV_IMPLS:
    raise MattingInputError(f"must be one of {CONV_IMPLS}, got {conv_impl!r}",
                            field="model.conv_impl")
  if kernel_init not in KERNEL_INIT_NAMES:
    raise MattingInputError(f"must be one of {KERNEL_INIT_NAMES}, got {kernel_init!r}",
                            field="model.kernel_init")
  for name, size in (("first_kernel", first_kernel), ("last_kernel", last_kernel)):
    if size % 2 == 0 or size < 1:
      raise MattingInputError(f"must be a positive odd size, got {size}", field=f"model.{name}")


def margin(first_kernel, last_kernel):
  """Pixels lost per side by the VALID convolutions: (27 - 15) / 2 = 6 for the paper's net."""
  return (first_kernel - 1) // 2 + (last_kernel - 1) // 2


RGB_CHANNELS = len(stacks.RGB_CHANNELS)  # A gated net mixes the channels after them.
GATE = "gate"  # The gated net's layer of mixing logits (models/dcnn.py).
FIRST_KERNEL = "params/structure/kernel"  # (k1, k1, input channels, first_width)
# The layer after the first (the reconstruction when there is no remap layer); its kernels'
# third axis runs over the first layer's filters.
SECOND_KERNELS = ("params/remap_1/kernel", "params/reconstruction/kernel")


def gate_outputs(channels):
  """How many softmax weights a gated net computes for `channels` input channels: one for
  its own alpha and one per input matte (the channels after RGB); an error without a matte."""
  if channels <= RGB_CHANNELS:
    raise MattingInputError(f"needs input mattes after RGB, got {channels} channels",
                            field="model.gated")
  return 1 + channels - RGB_CHANNELS


def param_shapes(model_config, channels):
  """{'params/<layer>/<kernel|bias>': shape} of the DCNN for `channels` input channels, the
  flattened layout of `models.weights` (the Flax model's tree; a test holds them equal)."""
  fields = dict(model_config)
  check_fields(**fields)
  widths = (channels, fields["first_width"]) + tuple(fields["remap_widths"])
  k1, k6 = fields["first_kernel"], fields["last_kernel"]
  shapes = {FIRST_KERNEL: (k1, k1, widths[0], widths[1])}
  for n in range(1, fields["num_remap_layers"] + 1):
    shapes[f"params/remap_{n}/kernel"] = (1, 1, widths[n], widths[n + 1])
    shapes[f"params/remap_{n}/bias"] = (widths[n + 1],)
  shapes["params/reconstruction/kernel"] = (k6, k6, widths[-1], 1)
  shapes["params/reconstruction/bias"] = (1,)
  if fields.get("gated", False):
    mixed = gate_outputs(channels)
    shapes[f"params/{GATE}/kernel"] = (k6, k6, widths[-1], mixed)
    shapes[f"params/{GATE}/bias"] = (mixed,)
  return shapes
