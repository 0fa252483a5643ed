"""Fig. 6: the effect of the initial alpha mattes fed to the network.

rgb_trimap, rgb_cf, rgb_knn, rgb_cf_knn (the paper's standard), with the comprehensive
sampling matte rgb_cf_comp and rgb_cf_knn_comp, and with the KNN matte on RGB features
instead of HSV rgb_cf_knnrgb and rgb_cf_knnrgb_comp, and three not from the paper:
rgb_cf_knn_comp_depth (each unknown pixel's distance to the nearest known one as a further
channel), rgb_cf_knn_nearest, rgb_cf_knn_comp_nearest (the nearest-sample matte,
classic/nearest_sample.py, as a further matte) and rgb_cf_knn_compsampled(_conf)
(comprehensive sampling's alpha before its Laplacian smoothing in place of the comp matte,
and with each sample's confidence). Same architecture, data, seed and schedule.
  python launch.py --experiment=input_combinations [--mode=cpu] [--data_dir=...]
"""

from experiments import common
from matting.inputs.stacks import COMBINATIONS


def get_config(mode="cpu"):
  return common.train_config(mode)


def sweep(mode="cpu"):
  del mode
  return [{"name": name, "inputs.combination": name} for name in COMBINATIONS]
