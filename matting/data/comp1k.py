"""The Composition-1k layout (Deep Image Matting, Xu et al. 2017) as a data source.

Training: foreground/alpha pairs `Training_set/**/fg/NAME.png` + `Training_set/**/alpha/NAME.png`
at any depth (the release has `Adobe-licensed images/` and `Other/`), each composited onto
`num_bg` backgrounds from `bg_dir` (default `DATA_DIR/bg`) the DIM way: the background is
upscaled (if needed) to cover the foreground and cropped at its top-left corner, and
I = αF + (1 - α)B. Backgrounds are dealt from a seeded permutation, so each foreground gets
different ones; trimaps come from seeded random erosions of the known regions (the unknown
band widened by `trimap_width` px, a random width per side, as GCA/MatteFormer generate them).

Testing: the composed layout that GCA/MatteFormer/ViTMatte read, with the same names in
`Test_set/merged/`, `Test_set/trimaps/` and `Test_set/alpha_copy/`.

`layout_of(data_cfg)` picks 'comp1k' or 'alphamatting' from `data.layout` or, when that is
'auto', from the folders present under `data.dir`.
"""

import os

import numpy as np
from absl import logging
from scipy import ndimage

from matting.data import io
from matting.data.datasets import ALPHAMATTING_INPUT, Example, image_files
from matting.errors import MattingInputError

LAYOUTS = ("auto", "alphamatting", "comp1k")
TRAIN_DIR = "Training_set"
TEST_DIR = "Test_set"
TEST_FOLDERS = ("merged", "trimaps", "alpha_copy")
TEST_SET = "comp1k_test"
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def layout_of(data_cfg):
  """'comp1k' or 'alphamatting' for `data_cfg.dir`, by `data_cfg.layout` or its contents."""
  layout = data_cfg.get("layout", "auto")
  if layout not in LAYOUTS:
    raise MattingInputError(f"expected one of {LAYOUTS}, got {layout!r}", field="data.layout")
  if layout != "auto":
    return layout
  root = os.fspath(data_cfg.dir)
  if os.path.isdir(os.path.join(root, TRAIN_DIR)) or os.path.isdir(os.path.join(root, TEST_DIR)):
    return "comp1k"
  if os.path.isdir(os.path.join(root, ALPHAMATTING_INPUT)) or not os.path.isdir(root):
    return "alphamatting"  # Its loader names the missing folders.
  raise MattingInputError(f"{root}: neither the alphamatting.com layout "
                          f"({ALPHAMATTING_INPUT}/, ...) nor Composition-1k ({TRAIN_DIR}/, "
                          f"{TEST_DIR}/)", field="data.dir")


def _stems(folder):
  """{name without extension: path} of the images in `folder`."""
  return {os.path.splitext(f)[0]: os.path.join(folder, f) for f in sorted(os.listdir(folder))
          if f.lower().endswith(_IMAGE_EXTENSIONS) and not f.startswith(".")}


def foreground_pairs(root):
  """Sorted [(name, fg path, alpha path)] under root/Training_set, at any depth.

  A name is its path below Training_set with the fg/ folder dropped, e.g.
  'Adobe-licensed images/hair_01', so equal file names in different sub-folders stay apart.
  """
  train_root = os.path.join(os.fspath(root), TRAIN_DIR)
  if not os.path.isdir(train_root):
    raise MattingInputError(f"{train_root}: missing folder (Composition-1k training layout "
                            f"{TRAIN_DIR}/**/fg/, {TRAIN_DIR}/**/alpha/)", field="data.dir")
  pairs = []
  for folder, dirs, _ in os.walk(train_root):
    dirs.sort()
    if "fg" not in dirs:
      continue
    alpha_dir = os.path.join(folder, "alpha")
    fgs = _stems(os.path.join(folder, "fg"))
    alphas = _stems(alpha_dir) if os.path.isdir(alpha_dir) else {}
    missing = sorted(set(fgs) - set(alphas))
    if missing:
      raise MattingInputError(f"{alpha_dir}: no alpha for foreground(s) "
                              f"{', '.join(missing[:5])}", field="data.dir")
    prefix = os.path.relpath(folder, train_root)
    for stem in sorted(fgs):
      name = stem if prefix == "." else f"{prefix}/{stem}"
      pairs.append((name, fgs[stem], alphas[stem]))
  if not pairs:
    raise MattingInputError(f"{train_root}: no fg/ folder with images found", field="data.dir")
  return sorted(pairs)


def fit_background_dim(background, height, width):
  """DIM's background fit: upscale (bilinear) by the smallest factor that covers
  (height, width) when it is smaller, then crop the top-left (height, width)."""
  bg_h, bg_w = background.shape[:2]
  ratio = max(height / bg_h, width / bg_w)
  if ratio > 1:
    out_h, out_w = int(np.ceil(bg_h * ratio)), int(np.ceil(bg_w * ratio))
    background = ndimage.zoom(background, (out_h / bg_h, out_w / bg_w, 1), order=1,
                              mode="nearest", grid_mode=True)
  return np.ascontiguousarray(background[:height, :width], dtype=np.float32)


def random_trimap(alpha, rng, width_range):
  """Trimap (H, W) {0, 0.5, 1} from GT α: the FG (α = 1) and BG (α = 0) regions are each
  eroded by a random width in `width_range` px (Euclidean), the rest is unknown. A width
  that erases all FG or BG is halved until some remains (the trimap must keep both)."""
  low, high = width_range
  if not 0 <= low <= high:
    raise MattingInputError(f"need 0 <= low <= high, got {tuple(width_range)}",
                            field="data.comp1k.trimap_width")
  fg_dist = ndimage.distance_transform_edt(alpha >= 1)
  bg_dist = ndimage.distance_transform_edt(alpha <= 0)
  out = np.full(alpha.shape, 0.5, np.float32)
  for dist, value in ((bg_dist, 0.0), (fg_dist, 1.0)):
    width = float(rng.integers(low, high + 1))
    while width > 0 and not (dist > width).any():
      width = np.floor(width / 2)
    out[dist > width] = value
  return out


def training_examples(root, bg_dir, num_bg, seed, trimap_width, num_fg=0):
  """DIM composites: each foreground (the first `num_fg` by name, 0 = all) on `num_bg`
  backgrounds, named 'NAME_bgK'. Deterministic from `seed`. A foreground whose alpha has no
  opaque or no clear pixel (no trimap possible) is skipped with a warning."""
  pairs = foreground_pairs(root)
  if num_fg:
    pairs = pairs[:num_fg]
  bg_dir = bg_dir or os.path.join(os.fspath(root), "bg")
  try:
    bg_paths = image_files(bg_dir)
  except MattingInputError as e:
    raise MattingInputError(f"{e} (Composition-1k composites need backgrounds)",
                            field="data.bg_dir") from e
  if num_bg < 1:
    raise MattingInputError(f"must be >= 1, got {num_bg}", field="data.comp1k.num_bg")
  rng = np.random.default_rng([seed, 0])
  order = rng.permutation(len(bg_paths))
  deal = [bg_paths[order[i % len(order)]] for i in range(len(pairs) * num_bg)]
  examples, skipped = [], []
  for index, (name, fg_path, alpha_path) in enumerate(pairs):
    fg = io.read_image(fg_path)
    alpha = io.read_alpha(alpha_path)
    io.check_same_size(fg.shape, alpha.shape, fg_path, alpha_path)
    if not ((alpha >= 1).any() and (alpha <= 0).any()):
      # E.g. a glass with no opaque pixel: its trimap would lack FG (or BG).
      skipped.append(name)
      continue
    for k in range(num_bg):
      bg = fit_background_dim(io.read_image(deal[index * num_bg + k]), *alpha.shape)
      a = alpha[..., None]
      image = np.clip(a * fg + (1 - a) * bg, 0.0, 1.0).astype(np.float32)
      trimap = random_trimap(alpha, np.random.default_rng([seed, 1, index, k]), trimap_width)
      examples.append(Example(name=f"{name}_bg{k}", image=image, trimap=trimap, alpha=alpha))
  if skipped:
    logging.warning("Composition-1k: skipped %d foreground(s) whose alpha has no opaque or no "
                    "clear pixel: %s", len(skipped), ", ".join(skipped[:10]))
  if not examples:
    raise MattingInputError(f"{root}: no foreground has both opaque (255) and clear (0) alpha",
                            field="data.dir")
  return examples


def test_examples(root, num=0):
  """The composed test set (Test_set/merged, trimaps, alpha_copy), sorted by name; the first
  `num` (0 = all)."""
  test_root = os.path.join(os.fspath(root), TEST_DIR)
  folders = [os.path.join(test_root, f) for f in TEST_FOLDERS]
  for folder in folders:
    if not os.path.isdir(folder):
      raise MattingInputError(f"{folder}: missing folder; expected the composed "
                              f"Composition-1k test layout {TEST_DIR}/{{merged,trimaps,"
                              f"alpha_copy}}/", field="data.dir")
  found = [_stems(f) for f in folders]
  names = sorted(set(found[0]) & set(found[1]) & set(found[2]))
  lonely = sorted(set.union(*map(set, found)) - set(names))
  if lonely:
    raise MattingInputError(f"{test_root}: {', '.join(lonely[:5])} not in all of "
                            f"{', '.join(TEST_FOLDERS)}", field="data.dir")
  if not names:
    raise MattingInputError(f"{folders[0]}: no images found", field="data.dir")
  examples = []
  for name in names[:num] if num else names:
    image, trimap = io.read_image_and_trimap(found[0][name], found[1][name])
    alpha = io.read_alpha(found[2][name])
    io.check_same_size(image.shape, alpha.shape, found[0][name], found[2][name])
    examples.append(Example(name=name, image=image, trimap=trimap, alpha=alpha))
  return examples


def split(data_cfg):
  """(training composites, {'comp1k_test': test examples}) of a Composition-1k data config."""
  c = data_cfg.comp1k
  train = training_examples(data_cfg.dir, data_cfg.get("bg_dir", ""), c.num_bg, c.seed,
                            tuple(c.trimap_width), c.get("num_fg", 0))
  return train, {TEST_SET: test_examples(data_cfg.dir, c.get("num_test", 0))}
