"""The shipped models on the far validation sets, beside the classic inputs and pymatting.

  python launch.py --experiment=evaluate_far \
      [--config.runs="('matting/weights/dcnn_rgb_cf_knn.npz',)"]

Sets: the alphamatting held-out split (Trimap1, Trimap2); its Trimap1 images upscaled 2x and
3x; its foregrounds re-composited onto three scikit-image photographs that no training recipe
uses; eighteen 1.9 MP images of the second synthetic generator with textures from those
photographs. (pymatting's lemur is not a set: its alpha is an algorithm's estimate, and the
closed-form matte reproduces it to SAD 0.06; `far.extra` takes real GT triples.) Rows: every
run or weights file under `runs`, closed-form, KNN, comprehensive sampling and pymatting's
shared matting (estimate_alpha_sm).
"""

from experiments import common, evaluate
from matting.inputs.far_sets import far_config

WEIGHTS = ("matting/weights/dcnn_rgb_cf_knn.npz",)


def get_config(mode="cpu"):
  cfg = evaluate.get_config(mode)
  cfg.runs = tuple(WEIGHTS)
  cfg.baselines = ("cf", "knn", "comp", "pymatting_sm")
  cfg.far = far_config()
  far_photos = common.skimage_photos(common.SKIMAGE_FAR_PHOTOS)
  cfg.far.update(background_files=far_photos, photo_files=far_photos)
  if mode == "smoke":
    cfg.far.update(sets=("upscaled_2x", "synthetic_v2"), base_set="synthetic")
    cfg.far.synthetic_v2.update(num=1, height=120, width=160)
    return cfg
  cfg.data.dir = common.ALPHAMATTING_DIR
  cfg.far.sets = ("upscaled_2x", "upscaled_3x", "recomposited", "synthetic_v2")
  return cfg


def sweep(mode="cpu"):
  del mode
  return [{}]
