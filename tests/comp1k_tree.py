"""Tiny data trees in the Composition-1k and alphamatting layouts, from synthetic examples."""

import os

import numpy as np

from matting.data import synthetic


def _write(path, array):
  import imageio.v3 as iio
  os.makedirs(os.path.dirname(path), exist_ok=True)
  iio.imwrite(path, np.round(np.clip(array, 0, 1) * 255).astype(np.uint8))


def make_comp1k_tree(root, num_train=(2, 1), num_test=2, num_bg=3, size=(72, 96)):
  """root/Training_set/{Adobe-licensed images,Other}/{fg,alpha}/, root/bg/ (backgrounds
  smaller than the foregrounds, so they must be upscaled) and root/Test_set/{merged,trimaps,
  alpha_copy}/. Returns root."""
  height, width = size
  seed = 0
  for folder, count in zip(("Adobe-licensed images", "Other"), num_train):
    for i in range(count):
      ex = synthetic.make_example(seed, height, width, unknown_width=6)
      seed += 1
      for kind, array in (("fg", ex.foreground), ("alpha", ex.alpha)):
        _write(os.path.join(root, "Training_set", folder, kind, f"fg{i}.png"), array)
  for i in range(num_bg):
    rng = np.random.default_rng([99, i])
    _write(os.path.join(root, "bg", f"bg{i}.jpg"),
           synthetic.make_background(rng, height // 2, width // 2 + 3))
  for i in range(num_test):
    ex = synthetic.make_example(100 + i, height, width, unknown_width=6)
    for kind, array in (("merged", ex.image), ("trimaps", ex.trimap), ("alpha_copy", ex.alpha)):
      _write(os.path.join(root, "Test_set", kind, f"test{i}.png"), array)
  return root


def make_alphamatting_tree(root, num=2, size=(48, 64)):
  """root/input_training_lowres/GTxx.png, trimap_training_lowres/Trimap{1,2}/, gt_...; GT02 is
  among them (a default validation name). Returns root."""
  for i in range(1, num + 1):
    ex = synthetic.make_example(200 + i, *size, unknown_width=5)
    name = f"GT{i:02d}.png"
    _write(os.path.join(root, "input_training_lowres", name), ex.image)
    _write(os.path.join(root, "gt_training_lowres", name), ex.alpha)
    for kind in ("Trimap1", "Trimap2"):
      _write(os.path.join(root, "trimap_training_lowres", kind, name), ex.trimap)
  return root
