"""Evaluation and training data as lists of `Example`s: the alphamatting.com training layout
on disk, or the embedded synthetic set (matting.synthetic) when no data directory is given.
"""

import dataclasses
import os
from typing import Optional

import numpy as np

from matting.data import io, synthetic
from matting.errors import MattingInputError

ALPHAMATTING_INPUT = "input_training_lowres"
ALPHAMATTING_TRIMAPS = "trimap_training_lowres"
ALPHAMATTING_GT = "gt_training_lowres"
TRIMAP_KINDS = ("Trimap1", "Trimap2")


@dataclasses.dataclass(frozen=True, eq=False)
class Example:
  """One matting problem, all float32: image (H, W, 3) in [0, 1], trimap (H, W) in
  {0, 0.5, 1}, alpha the ground truth (H, W) in [0, 1] or None when unknown.
  eq=False: arrays have no truth value, so examples compare by identity.
  """
  name: str
  image: np.ndarray
  trimap: np.ndarray
  alpha: Optional[np.ndarray] = None


def _alphamatting_dirs(root, trimap):
  """(input, trimap, gt) folders of the alphamatting.com training layout under root."""
  if trimap not in TRIMAP_KINDS:
    raise MattingInputError(f"trimap kind: expected one of {TRIMAP_KINDS}, got {trimap!r}",
                            field="data.trimaps")
  root = os.fspath(root)
  dirs = (os.path.join(root, ALPHAMATTING_INPUT), os.path.join(root, ALPHAMATTING_TRIMAPS, trimap),
          os.path.join(root, ALPHAMATTING_GT))
  if not os.path.isdir(root):
    raise MattingInputError(f"{root}: no such data directory")
  for path in dirs:
    if not os.path.isdir(path):
      raise MattingInputError(f"{path}: missing folder; expected the alphamatting.com training "
                              f"layout {ALPHAMATTING_INPUT}/, {ALPHAMATTING_TRIMAPS}/{trimap}/, "
                              f"{ALPHAMATTING_GT}/ under {root}")
  return dirs


def _png_names(folder):
  return {os.path.splitext(f)[0] for f in os.listdir(folder)
          if f.lower().endswith(".png") and not f.startswith(".")}


def image_files(folder):
  """Paths of the PNG/JPEG images in `folder`, sorted by name."""
  folder = os.fspath(folder)
  if not os.path.isdir(folder):
    raise MattingInputError(f"{folder}: no such image directory")
  names = sorted(f for f in os.listdir(folder)
                 if f.lower().endswith((".png", ".jpg", ".jpeg")) and not f.startswith("."))
  if not names:
    raise MattingInputError(f"{folder}: no .png or .jpg images found")
  return [os.path.join(folder, name) for name in names]


def load_images(folder):
  """Every image of `image_files(folder)` as float32 RGB: e.g. new backgrounds."""
  return [io.read_image(path) for path in image_files(folder)]


def list_alphamatting(root, trimap="Trimap1"):
  """Sorted names (e.g. "GT01") of the images present, discovered from the files.

  Indices may be missing (the shared copy lacks five of the 27), but every name must have an
  input, a trimap and a GT file; a file without its counterparts raises MattingInputError.
  """
  dirs = _alphamatting_dirs(root, trimap)
  found = [_png_names(d) for d in dirs]
  names = set.union(*found)
  for folder, present in zip(dirs, found):
    if names - present:
      missing = sorted(names - present)
      raise MattingInputError(f"{folder}: missing {', '.join(m + '.png' for m in missing)} "
                              f"(present in the other folders)")
  if not names:
    raise MattingInputError(f"{dirs[0]}: no .png images found")
  return sorted(names)


def load_alphamatting(root, trimap="Trimap1", names=None):
  """Reads the alphamatting.com training layout under root:

    root/input_training_lowres/GTxx.png, root/trimap_training_lowres/{trimap}/GTxx.png,
    root/gt_training_lowres/GTxx.png

  Args:
    root: the data directory.
    trimap: "Trimap1" (tighter) or "Trimap2" (wider).
    names: optional subset such as ["GT01", "GT05"], loaded in the given order; default all
      present (list_alphamatting).

  Returns:
    list of Examples with GT alpha; sizes are cross-checked per name.
  """
  present = list_alphamatting(root, trimap)
  if names is None:
    names = present
  unknown = [n for n in names if n not in present]
  if unknown:
    raise MattingInputError(f"{os.fspath(root)}: no image named {', '.join(unknown)}; "
                            f"present: {', '.join(present)}")
  input_dir, trimap_dir, gt_dir = _alphamatting_dirs(root, trimap)
  examples = []
  for name in names:
    image_path, trimap_path, gt_path = (os.path.join(d, name + ".png")
                                        for d in (input_dir, trimap_dir, gt_dir))
    image, trimap_array = io.read_image_and_trimap(image_path, trimap_path)
    alpha = io.read_alpha(gt_path)
    io.check_same_size(image.shape, alpha.shape, image_path, gt_path)
    examples.append(Example(name=name, image=image, trimap=trimap_array, alpha=alpha))
  return examples


def synthetic_set(seed=0, num=6, height=480, width=640, unknown_width=8):
  """`num` synthetic examples named syn000, syn001, ...

  Example i is generated from the i-th child of np.random.SeedSequence(seed), so it depends
  only on (seed, i): a larger `num` appends examples and leaves the earlier ones unchanged.
  """
  if num < 1:
    raise MattingInputError(f"synthetic set size must be >= 1, got {num}")
  examples = []
  for index, child in enumerate(np.random.SeedSequence(seed).spawn(num)):
    ex = synthetic.make_example(child, height=height, width=width, unknown_width=unknown_width)
    examples.append(Example(name=f"syn{index:03d}", image=ex.image, trimap=ex.trimap,
                            alpha=ex.alpha))
  return examples
