"""Config pieces shared by experiment files; the scale of each is chosen by `mode`.

Modes: `smoke` runs in about a minute (tests), `cpu` finishes a whole sweep on the 2-core
CPU in about 20 minutes, `paper` is the paper's scale (>= 100k patches, long SGD schedule,
for a GPU).
"""

import ml_collections

MODES = ("smoke", "cpu", "paper")

# Fixed validation split of the alphamatting training set (every 4th index of the 27, as
# available in ../shared/data): these images and their augmentations never train.
VALIDATION_NAMES = ("GT02", "GT06", "GT10", "GT14", "GT18", "GT22", "GT26")

# Embedded synthetic set per mode: (train images, validation images, height, width).
_SYNTHETIC_SCALE = {"smoke": (3, 1, 120, 160), "cpu": (8, 4, 320, 400),
                    "paper": (40, 8, 600, 800)}


def check_mode(mode):
  if mode not in MODES:
    raise ValueError(f"--mode: expected one of {MODES}, got {mode!r}")


def data_config(mode):
  """Images: `dir` (alphamatting or Composition-1k layout, by `layout` or detected) or, if
  empty, the embedded synthetic set. `bg_dir` (default DIR/bg) and `comp1k` configure the
  Composition-1k composites (data/comp1k.py): `num_bg` backgrounds per foreground (DIM: 100),
  `trimap_width` the (min, max) px of the random unknown band, `num_fg`/`num_test` limits
  (0 = all)."""
  check_mode(mode)
  num, num_val, height, width = _SYNTHETIC_SCALE[mode]
  return ml_collections.ConfigDict({
      "dir": "",
      "trimaps": ("Trimap1", "Trimap2"),
      "names": (),
      "layout": "auto",
      "bg_dir": "",
      "comp1k": {"num_bg": 100 if mode == "paper" else 2, "seed": 0, "trimap_width": (1, 30),
                 "num_fg": 0, "num_test": 0},
      "train_names": (),
      "val_names": VALIDATION_NAMES,
      "synthetic": {"seed": 1234, "num": num, "height": height, "width": width,
                    "unknown_width": 10, "val_seed": 4321, "num_val": num_val},
  })


def train_config(mode):
  """The standard DCNN (rgb_cf_knn, 4 remap layers) trained at the scale of `mode`."""
  from matting.models.dcnn import default_model_config
  from matting.training.checkpoints import default_checkpoint_config
  from matting.training.optim import default_train_config
  check_mode(mode)
  cfg = ml_collections.ConfigDict()
  cfg.kind = "train"
  cfg.seed = 0
  cfg.cache_dir = "runs/cache"
  cfg.data = data_config(mode)
  cfg.inputs = {"combination": "rgb_cf_knn"}
  cfg.model = default_model_config()
  cfg.train = default_train_config()
  cfg.train.log_every = 50
  cfg.checkpoint = default_checkpoint_config()
  cfg.augment = {"num_per_example": 2, "num_backgrounds": 8, "photo_backgrounds": True,
                 "background_dirs": (),
                 "include_originals": True, "max_angle_deg": 30.0,
                 "scale_range": (0.75, 1.25), "flip_prob": 0.5}
  # hard_weight > 0: draw more patches where the classic inputs are wrong (patches.py).
  cfg.patches = {"num_patches": 20000, "num_val_patches": 2048, "max_per_image": 4000,
                 "num_clusters": 20, "stride": 2, "hard_weight": 0.0, "hard_error": "min"}
  if mode == "paper":
    # §4.1: >1e5 patches, SGD lr 1e-5 (Caffe's summed loss; see train_step), momentum 0.9.
    cfg.augment.num_per_example = 8
    cfg.patches.update(num_patches=150000, max_per_image=20000, stride=1)
    cfg.checkpoint.every_steps = 10000
    cfg.train.log_every = 1000
  else:
    # A CPU budget needs a faster optimiser than the paper's SGD (see BUILD_NOTES.md).
    cfg.train.update(optimizer="adam", lr=1e-3, schedule="warmup_cosine", warmup_steps=50)
    if mode == "cpu":
      cfg.train.update(steps=600, batch_size=128)
      cfg.checkpoint.every_steps = 200
    else:
      cfg.augment.update(num_per_example=1, num_backgrounds=2)
      cfg.patches.update(num_patches=2048, num_val_patches=256, max_per_image=2000)
      cfg.train.update(steps=60, batch_size=64, warmup_steps=5, log_every=20)
      cfg.checkpoint.every_steps = 30
  return cfg


SHARED_DATA = "../shared/data"
ALPHAMATTING_DIR = f"{SHARED_DATA}/alphamatting"
ALPHAMATTING_TEST_PHOTOS = f"{SHARED_DATA}/alphamatting_test/input_lowres"
# Colour photographs shipped in the scikit-image wheel (a dev dependency), split once: the
# first serve as training backgrounds and textures, the second only in far validation sets.
SKIMAGE_TRAIN_PHOTOS = ("astronaut.png", "coffee.png", "motorcycle_left.png", "rocket.jpg",
                        "ihc.png")
SKIMAGE_FAR_PHOTOS = ("chelsea.png", "hubble_deep_field.jpg", "retina.jpg")


def skimage_photos(names):
  """Paths of scikit-image's bundled photographs `names`, or () without scikit-image."""
  import importlib.util
  import os
  spec = importlib.util.find_spec("skimage")
  if spec is None or not spec.submodule_search_locations:
    return ()
  folder = os.path.join(list(spec.submodule_search_locations)[0], "data")
  return tuple(os.path.join(folder, name) for name in names)


def photo_files(folder):
  """The sorted image paths of `folder`, or () when it does not exist (data absent)."""
  import os
  if not os.path.isdir(folder):
    return ()
  return tuple(os.path.join(folder, f) for f in sorted(os.listdir(folder))
               if f.lower().endswith((".png", ".jpg", ".jpeg")))
