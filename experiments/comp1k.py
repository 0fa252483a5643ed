"""The standard DCNN trained on Composition-1k composites, reported on its test set.

  python launch.py --experiment=comp1k --data_dir=ROOT [--mode=smoke|cpu|paper] \
      [--config.data.bg_dir=BACKGROUNDS]

ROOT holds `Training_set/**/{fg,alpha}/` and the composed `Test_set/{merged,trimaps,
alpha_copy}/`; backgrounds default to ROOT/bg (DIM used COCO/VOC images). Each foreground is
composited onto `data.comp1k.num_bg` backgrounds with a random trimap (data/comp1k.py); those
composites are the training images (no further re-compositing), and the test set is scored
with the alphamatting metrics next to the cached closed-form and KNN baselines. Smoke and cpu
modes cap the foregrounds and test images so the classic mattes stay affordable.
"""

from experiments import common

# Per mode: (foregrounds, backgrounds per foreground, test images); 0 = all.
_SCALE = {"smoke": (2, 1, 2), "cpu": (8, 2, 8), "paper": (0, 100, 0)}
# Smoke images are tiny: a narrower random band keeps known pixels in each trimap.


def get_config(mode="cpu"):
  cfg = common.train_config(mode)
  cfg.data.layout = "comp1k"
  num_fg, num_bg, num_test = _SCALE[mode]
  cfg.data.comp1k.update(num_fg=num_fg, num_bg=num_bg, num_test=num_test)
  if mode == "smoke":
    cfg.data.comp1k.trimap_width = (1, 8)
  cfg.augment.num_per_example = 0  # The DIM composites are the augmentation.
  return cfg


def sweep(mode="cpu"):
  del mode
  return [{}]
