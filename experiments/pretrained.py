"""The recipe of the shipped weights (matting/weights/dcnn_rgb_cf_knn.npz).

The standard network (rgb_cf_knn, 4 remap layers of 64, 64, 64, 32) trained on the real
alphamatting training images (both trimaps) minus the fixed validation split, each foreground
re-composited onto synthetic textures, the other training photographs and the alphamatting
test-set photographs (which never appear as foregrounds), with rotation, reflection and
resizing; >= 100k balanced patches. On the 2-core CPU (`cpu` mode) it took 38 minutes:

  python launch.py --experiment=pretrained
  matting export runs/pretrained -o matting/weights/dcnn_rgb_cf_knn.npz

`--mode=paper` trains it with the paper's SGD schedule instead (for a GPU); `smoke` is a
minute-long check of the recipe on the embedded synthetic set.
"""

from experiments import common

DATA_DIR = common.ALPHAMATTING_DIR
BACKGROUND_DIRS = (common.ALPHAMATTING_TEST_PHOTOS,)


def get_config(mode="cpu"):
  cfg = common.train_config(mode)
  if mode == "smoke":
    return cfg
  cfg.data.dir = DATA_DIR
  cfg.augment.update(num_per_example=4, background_dirs=BACKGROUND_DIRS)
  cfg.patches.update(num_patches=120000, max_per_image=4000)
  if mode == "cpu":
    # Charbonnier (a smooth L1) because SAD, the benchmark's first metric, is an L1 error.
    cfg.train.update(steps=12000, loss="charbonnier", warmup_steps=200)
    cfg.checkpoint.update(every_steps=1000)
    cfg.train.log_every = 200
  return cfg


def sweep(mode="cpu"):
  del mode
  return [{}]
