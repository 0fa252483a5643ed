"""Range checks of an experiment config's numeric fields, before a run writes anything.

Without them a zero step count or checkpoint interval divides by zero, a zero batch trips
optax, and a NaN learning rate trains to the end before failing, each after the run
directory has been created. `check_config` raises one MattingInputError naming the field
('train.steps'), which launch.py turns into `--config.train.steps: ...` and exit status 2.
Sections absent from a config (a classic experiment has no `train`) are skipped.
"""

import os

from matting.errors import MattingInputError, out_of_range

# Validation metrics a checkpoint is saved with (loop.py); checkpoint.best_metric picks one.
BEST_METRICS = ("sad",)


def _integer(cfg, path, low, high=None):
  value = _get(cfg, path)
  if value is not _MISSING:
    _raise(out_of_range(value, low, high, integer=True), path)


def _real(cfg, path, low=None, high=None, low_open=False, high_open=False):
  value = _get(cfg, path)
  if value is not _MISSING:
    _raise(out_of_range(value, low, high, low_open=low_open, high_open=high_open), path)


def _raise(problem, path):
  if problem:
    raise MattingInputError(problem, field=path)


class _Missing:
  pass


_MISSING = _Missing()


def _get(cfg, path):
  node = cfg
  for name in path.split("."):
    if not hasattr(node, "get") or name not in node:
      return _MISSING
    node = node[name]
  return node


def _check_gate(cfg):
  """A gated network mixes every channel after RGB as an alpha: they must all be mattes."""
  gated, combination = _get(cfg, "model.gated"), _get(cfg, "inputs.combination")
  if gated is _MISSING or not gated or combination is _MISSING:
    return
  from matting.inputs import stacks
  others = [c for c in stacks.extra_channels(combination) if c in stacks.TRIMAP_CHANNELS]
  if others:
    raise MattingInputError(f"mixes the channels after RGB as alphas, but {combination!r} "
                            f"has {', '.join(others)}", field="model.gated")


def check_config(cfg):
  """Raises MattingInputError(field='section.name') for the first out-of-range numeric field.

  Checks what each field must be for the run to work at all, not whether it is sensible.
  """
  _integer(cfg, "seed", 0)
  # Training (train.seed is only a data-order seed).
  _integer(cfg, "train.steps", 1)
  _integer(cfg, "train.batch_size", 1)
  _integer(cfg, "train.log_every", 1)
  _integer(cfg, "train.warmup_steps", 0)
  _integer(cfg, "train.seed", 0)
  _real(cfg, "train.lr", low=0, low_open=True)
  _real(cfg, "train.momentum", low=0, high=1, high_open=True)
  _real(cfg, "train.grad_weight", low=0)
  trainable = _get(cfg, "train.trainable")
  if trainable is not _MISSING and (isinstance(trainable, str) or
                                    not all(isinstance(name, str) for name in trainable)):
    raise MattingInputError(f"must be a tuple of layer names, e.g. ('gate',), got {trainable!r}",
                            field="train.trainable")
  init_from = _get(cfg, "train.init_from")
  if init_from not in (_MISSING, "") and not os.path.exists(init_from):
    raise MattingInputError(f"{init_from}: no such weights file or work directory",
                            field="train.init_from")
  steps, warmup = _get(cfg, "train.steps"), _get(cfg, "train.warmup_steps")
  if (_get(cfg, "train.schedule") == "warmup_cosine" and warmup is not _MISSING
      and steps is not _MISSING and warmup >= steps):  # optax needs steps to decay over.
    raise MattingInputError(f"must be less than train.steps ({steps}) under the "
                            f"warmup_cosine schedule, got {warmup}", field="train.warmup_steps")
  # Checkpoints.
  _integer(cfg, "checkpoint.every_steps", 1)
  _integer(cfg, "checkpoint.keep_last", 1)
  _integer(cfg, "checkpoint.keep_best", 0)
  metric = _get(cfg, "checkpoint.best_metric")
  if metric is not _MISSING and metric not in BEST_METRICS:
    raise MattingInputError(f"must be one of {BEST_METRICS}, got {metric!r}",
                            field="checkpoint.best_metric")
  # Model sizes (kernel parity and remap_widths' length are checked by models/dcnn.py).
  _integer(cfg, "model.num_remap_layers", 0)
  _integer(cfg, "model.first_width", 1)
  _integer(cfg, "model.first_kernel", 1)
  _integer(cfg, "model.last_kernel", 1)
  widths = _get(cfg, "model.remap_widths")
  if widths is not _MISSING:
    for width in widths:
      if out_of_range(width, 1, integer=True):
        raise MattingInputError(f"must be integers >= 1, got {tuple(widths)}",
                                field="model.remap_widths")
  _check_gate(cfg)
  symmetries = _get(cfg, "symmetries")  # Evaluation's test-time averaging.
  if symmetries is not _MISSING:
    from matting.models.inference import symmetries_problem
    _raise(symmetries_problem(symmetries), "symmetries")
  # Patches and augmentation.
  for name in ("num_patches", "num_val_patches", "max_per_image", "num_clusters", "stride"):
    _integer(cfg, f"patches.{name}", 1)
  _real(cfg, "patches.hard_weight", low=0)
  hard_weight, hard_error = _get(cfg, "patches.hard_weight"), _get(cfg, "patches.hard_error")
  combination = _get(cfg, "inputs.combination")
  if hard_weight is not _MISSING and hard_error is not _MISSING:
    from matting.inputs import patches, stacks
    known = combination is not _MISSING  # Else the inputs are checked where they are built.
    patches.check_hard_sampling(
        hard_weight, hard_error, len(stacks.classic_methods(combination)) if known else 1,
        f"the inputs of {combination!r}")
  _integer(cfg, "augment.num_per_example", 0)
  _integer(cfg, "augment.num_backgrounds", 0)
  _real(cfg, "augment.max_angle_deg", low=0, high=180)
  _real(cfg, "augment.flip_prob", low=0, high=1)
  scale = _get(cfg, "augment.scale_range")
  if scale is not _MISSING:
    if not (len(scale) == 2 and all(out_of_range(s, 0, low_open=True) is None for s in scale)
            and scale[0] <= scale[1]):
      raise MattingInputError(f"must be (low, high) with 0 < low <= high, got {tuple(scale)}",
                              field="augment.scale_range")
  kinds = _get(cfg, "data.synthetic_v2_train.kinds")
  if kinds is not _MISSING:
    from matting.data import synthetic_v2
    synthetic_v2.check_kinds(kinds, field="data.synthetic_v2_train.kinds")
  # The embedded synthetic data set.
  for name in ("num", "num_val", "unknown_width"):
    _integer(cfg, f"data.synthetic.{name}", 1)
  for name in ("height", "width"):
    _integer(cfg, f"data.synthetic.{name}", 27)  # At least one 27x27 input patch.
  _integer(cfg, "data.synthetic.seed", 0)
  _integer(cfg, "data.synthetic.val_seed", 0)
