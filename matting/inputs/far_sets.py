"""Far validation sets: images further from the training photographs than the held-out split.

Built from the held-out validation examples (never trained on) and from photographs that no
training recipe uses, so that a model's margin over its inputs can be measured away from the
alphamatting look:
  upscaled_Nx     the validation images upscaled N times (image and GT bicubic, trimap nearest):
                  the same scenes with structures N times larger in pixels;
  recomposited    the validation foregrounds (estimated from their GT alpha) composited onto
                  new photographs, each scaled to cover the image and centre-cropped;
  synthetic_v2    the second, harder synthetic generator (data/synthetic_v2.py) with textures
                  from new photographs;
  extra           any other (image, trimap, alpha) triples given by file, e.g. pymatting's lemur.
Configured by `far_config()` fields; every set is deterministic from its seed.
"""

import ml_collections
import numpy as np
from scipy import ndimage

from matting.compose.cutout import composite, cover_resize
from matting.compose.foreground import estimate_foreground
from matting.data import io
from matting.data.datasets import Example
from matting.errors import MattingInputError


def far_config():
  """Which far sets to build and from what; `sets` empty means none (the default)."""
  return ml_collections.ConfigDict({
      "sets": (),  # e.g. ("upscaled_2x", "upscaled_3x", "recomposited", "synthetic_v2")
      "base_set": "alphamatting_Trimap1",
      "background_files": (),  # photographs for 'recomposited'
      "photo_files": (),  # texture sources for 'synthetic_v2'
      # 18 images since issue 13's fourteenth pass (6 before; a larger num appends images, so
      # the first six are the earlier set's): with six, two images decided every comparison.
      "synthetic_v2": {"seed": 777, "num": 18, "height": 1200, "width": 1600},
      "extra": (),  # ((name, image path, trimap path, alpha path), ...)
      "seed": 0,
  })


def upscale_example(example, factor):
  """The example `factor` times larger: image and alpha bicubic (clipped), trimap nearest."""
  zoom = lambda a, order: ndimage.zoom(a, (factor, factor) + (1,) * (a.ndim - 2), order=order,
                                       mode="nearest", grid_mode=True)
  return Example(name=f"{example.name}_x{factor:g}",
                 image=np.clip(zoom(example.image, 3), 0, 1).astype(np.float32),
                 trimap=zoom(example.trimap, 0).astype(np.float32),
                 alpha=np.clip(zoom(example.alpha, 3), 0, 1).astype(np.float32))


def recomposite_examples(examples, backgrounds):
  """Each example's foreground on each background (named NAME_bgK), Eq. (1)."""
  out = []
  for example in examples:
    foreground, _ = estimate_foreground(example.image, example.alpha)
    for k, background in enumerate(backgrounds):
      fitted = cover_resize(background, *example.alpha.shape)
      out.append(Example(name=f"{example.name}_bg{k}", trimap=example.trimap,
                         alpha=example.alpha,
                         image=composite(foreground, example.alpha, fitted)))
  return out


def _read_all(paths, what):
  if not paths:
    raise MattingInputError(f"{what} is empty: the far set needs photographs",
                            field=f"far.{what}")
  return [io.read_image(path) for path in paths]


def _extra_examples(entries):
  out = []
  for name, image_path, trimap_path, alpha_path in entries:
    image, trimap = io.read_image_and_trimap(image_path, trimap_path)
    alpha = io.read_alpha(alpha_path)
    io.check_same_size(alpha.shape, trimap.shape, alpha_path, trimap_path)
    out.append(Example(name=name, image=image, trimap=trimap, alpha=alpha))
  return out


def far_validation_sets(far_cfg, val_sets):
  """{set name: examples} for every name in `far_cfg.sets`, built from `val_sets`
  ({name: held-out examples}, the base set named by `far_cfg.base_set`) and the files given."""
  out = {}
  for name in far_cfg.sets:
    if name.startswith("upscaled_") and name.endswith("x"):
      base = _base(val_sets, far_cfg.base_set)
      factor = float(name[len("upscaled_"):-1])
      out[name] = [upscale_example(e, factor) for e in base]
    elif name == "recomposited":
      out[name] = recomposite_examples(_base(val_sets, far_cfg.base_set),
                                       _read_all(far_cfg.background_files, "background_files"))
    elif name == "synthetic_v2":
      from matting.data import synthetic_v2
      syn = far_cfg.synthetic_v2
      out[name] = synthetic_v2.synthetic_v2_set(
          syn.seed, syn.num, _read_all(far_cfg.photo_files, "photo_files"), syn.height,
          syn.width)
    elif name == "extra":
      out[name] = _extra_examples(far_cfg.extra)
    else:
      raise MattingInputError(f"unknown far validation set {name!r}; choose from "
                              "upscaled_<N>x, recomposited, synthetic_v2, extra",
                              field="far.sets")
  return out


def kind_subsets(far_cfg, val_sets):
  """{'synthetic_v2 with KIND' / 'synthetic_v2 without KIND': (set name, image names)} for
  each structure kind of the second generator that some but not all of the set's images hold:
  the report's means over these show which structures a model gains or loses on."""
  if "synthetic_v2" not in val_sets:
    return {}
  from matting.data import synthetic_v2
  names = [e.name for e in val_sets["synthetic_v2"]]
  kinds = {n: synthetic_v2.example_kinds(far_cfg.synthetic_v2.seed, n) for n in names}
  out = {}
  for kind in synthetic_v2.KINDS:
    holding = tuple(n for n in names if kind in kinds[n])
    if 0 < len(holding) < len(names):
      out[f"synthetic_v2 with {kind}"] = ("synthetic_v2", holding)
      out[f"synthetic_v2 without {kind}"] = ("synthetic_v2",
                                            tuple(n for n in names if n not in holding))
  return out


def _base(val_sets, name):
  if name not in val_sets:
    raise MattingInputError(f"base set {name!r} is not among the validation sets "
                            f"{sorted(val_sets)}", field="far.base_set")
  return val_sets[name]
