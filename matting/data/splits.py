"""The fixed split of a data config into training images and named validation sets.

A validation image and its augmentations never enter training. Real data (`data.dir`, the
alphamatting.com layout): every trimap kind of a training image trains, and validation is
reported per trimap kind. Synthetic data: disjoint seeds for training and validation.
"""

from absl import logging

from matting.data import comp1k, datasets
from matting.errors import MattingInputError


def split_examples(data_cfg):
  """(train, {set name: validation examples}) by the config's fixed validation names.

  Real data (`data_cfg.dir`): every trimap kind of a training image trains; validation is
  reported per trimap kind. Composition-1k (`data.layout`, or detected under `data.dir`):
  the seeded DIM composites train, the composed test set is reported (data/comp1k.py).
  Synthetic: disjoint seeds for training and validation.
  """
  if data_cfg.dir and comp1k.layout_of(data_cfg) == "comp1k":
    return comp1k.split(data_cfg)
  if data_cfg.dir:
    present = datasets.list_alphamatting(data_cfg.dir, trimap=data_cfg.trimaps[0])
    val_names = [n for n in data_cfg.val_names if n in present]
    missing = sorted(set(data_cfg.val_names) - set(present))
    if missing:
      logging.warning("validation names not in %s: %s", data_cfg.dir, missing)
    train_names = [n for n in present if n not in val_names]
    if data_cfg.train_names:
      train_names = [n for n in data_cfg.train_names if n in train_names]
    if not train_names or not val_names:
      raise MattingInputError(f"{data_cfg.dir}: need at least one training and one "
                              f"validation image (validation names: {list(data_cfg.val_names)})",
                              field="data.dir")
    train, val = [], {}
    for trimap in data_cfg.trimaps:
      train += datasets.load_alphamatting(data_cfg.dir, trimap=trimap, names=train_names)
      val[f"alphamatting_{trimap}"] = datasets.load_alphamatting(data_cfg.dir, trimap=trimap,
                                                                 names=val_names)
    return train + extra_training_examples(data_cfg), val
  syn = data_cfg.synthetic
  make = lambda seed, num: datasets.synthetic_set(seed=seed, num=num, height=syn.height,
                                                  width=syn.width,
                                                  unknown_width=syn.unknown_width)
  return make(syn.seed, syn.num), {"synthetic": make(syn.val_seed, syn.num_val)}


def validation_sets(data_cfg):
  """{set name: examples} of `split_examples`, without building Composition-1k's training
  composites (for evaluation and reports)."""
  if data_cfg.dir and comp1k.layout_of(data_cfg) == "comp1k":
    return {comp1k.TEST_SET: comp1k.test_examples(data_cfg.dir, data_cfg.comp1k.num_test)}
  return split_examples(data_cfg)[1]


def extra_training_examples(data_cfg):
  """Training examples beyond the data set: `data.synthetic_v2_train` (when a config has it)
  draws seeded foregrounds of the second synthetic generator with photographic textures."""
  syn = data_cfg.get("synthetic_v2_train")
  if not syn or not syn.num:
    return []
  from matting.data import io, synthetic_v2
  if not syn.photo_files:
    raise MattingInputError("is empty: the second generator needs photographs for its "
                            "textures", field="data.synthetic_v2_train.photo_files")
  photos = [io.read_image(path) for path in syn.photo_files]
  return synthetic_v2.synthetic_v2_set(syn.seed, syn.num, photos, syn.height, syn.width,
                                       tuple(syn.get("kinds", ())))
