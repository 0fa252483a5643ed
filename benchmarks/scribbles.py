"""How good are scribbles? SAD of `matting predict` from a few strokes vs from real trimaps.

  python benchmarks/scribbles.py [--images GT01,GT02,...] [--seed 0] [--checkpoint WEIGHTS]

For each alphamatting training image (../shared/data/alphamatting), strokes are drawn from the
ground truth: seeded random walks (width 7 px) inside the confident FG (GT >= 0.99) and BG
(GT <= 0.01), kept 10 px away from any soft pixel; 3 FG and 5 BG strokes, as a user might
draw them (start points spread by farthest-point sampling). Rows: the closed-form matte of
the strokes alone; the DCNN on the trimap derived from it; the DCNN again on a trimap read
from that matte (x2: what `matting predict IMAGE SCRIBBLES` does, see strokes.matte);
the DCNN on Trimap1 and on Trimap2. SAD (/1000) is over the whole image, so every input is
charged for every pixel it gets wrong (with a trimap, its known pixels are exact); SAD@T1 is
over Trimap1's unknown region, the alphamatting.com measure. 6 images take ~2-5 minutes on 2
busy CPU cores.
"""

import argparse
import math
import pathlib
import sys
import time

import numpy as np
from scipy import ndimage

from matting import predict
from matting.classic import strokes
from matting.data import io, trimap_tools
from matting.data.trimap import trimap_masks
from matting.reports.tables import markdown_table

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting"
DEFAULT_IMAGES = "GT01,GT02,GT05,GT10,GT15,GT26"
COLUMNS = ["image", "input", "SAD (whole)", "SAD@T1", "note"]


def _starts(region, rng, count):
  """`count` start points spread over `region`: a random one, then farthest-point sampling."""
  ys, xs = np.nonzero(region)
  chosen = [rng.integers(len(ys))]
  distance = np.full(len(ys), np.inf)
  for _ in range(count - 1):
    last = chosen[-1]
    distance = np.minimum(distance, np.hypot(ys - ys[last], xs - xs[last]))
    chosen.append(int(np.argmax(distance)))
  return [(ys[i], xs[i]) for i in chosen]


def _walk(region, rng, start, steps, step=2.0, turn=0.15):
  """Points of one random walk with momentum from `start` that stays inside `region`."""
  y, x = float(start[0]), float(start[1])
  angle = rng.uniform(0, 2 * math.pi)
  points = [start]
  for _ in range(steps):
    for _ in range(12):  # At the region's edge, try other directions before stopping.
      ny, nx = y + step * math.sin(angle), x + step * math.cos(angle)
      iy, ix = int(round(ny)), int(round(nx))
      if 0 <= iy < region.shape[0] and 0 <= ix < region.shape[1] and region[iy, ix]:
        break
      angle += rng.uniform(math.pi / 4, 7 * math.pi / 4)
    else:
      break
    y, x = ny, nx
    points.append((iy, ix))
    angle += rng.normal(0, turn)
  return points


def draw_strokes(gt, rng, fg_strokes=3, bg_strokes=5, radius=3, margin=10):
  """A scribble trimap (FG 1, BG 0, rest 0.5) of random-walk strokes in the GT's sure regions."""
  height, width = gt.shape
  steps = int(0.15 * math.hypot(height, width))  # Each stroke ~30 % of the diagonal long.
  scribbles = np.full(gt.shape, 0.5, dtype=np.float32)
  for value, sure, count in ((1.0, gt >= 0.99, fg_strokes), (0.0, gt <= 0.01, bg_strokes)):
    region = ndimage.distance_transform_edt(sure) > margin
    if not region.any():
      region = sure
    centre = np.zeros(gt.shape, bool)
    for start in _starts(region, rng, count):
      for y, x in _walk(region, rng, start, steps):
        centre[y, x] = True
    stroke = ndimage.distance_transform_edt(~centre) <= radius
    scribbles[stroke & sure] = value
  return scribbles


def whole_sad(alpha, gt):
  return float(np.abs(alpha - gt).sum() / 1000)


def region_sad(alpha, gt, trimap):
  return float(np.abs(alpha - gt)[trimap_masks(trimap)[2]].sum() / 1000)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--images", default=DEFAULT_IMAGES)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--checkpoint", default=None)
  parser.add_argument("--data", default=str(DATA))
  args = parser.parse_args(argv)
  data = pathlib.Path(args.data)
  params, cfg = predict.load_model(args.checkpoint)
  rows, sums = [], {}
  start = time.perf_counter()
  for index, name in enumerate(args.images.split(",")):
    image = io.read_image(data / "input_training_lowres" / f"{name}.png")
    gt = io.read_alpha(data / "gt_training_lowres" / f"{name}.png")
    trimap1 = io.read_trimap(data / "trimap_training_lowres" / "Trimap1" / f"{name}.png")
    trimap2 = io.read_trimap(data / "trimap_training_lowres" / "Trimap2" / f"{name}.png")
    scribbles = draw_strokes(gt, np.random.default_rng([args.seed, index]))
    derived, cf_alpha = strokes.trimap_from_scribbles(image, scribbles)
    wrong = np.mean(((derived == 1) & (gt < 0.9)) | ((derived == 0) & (gt > 0.1)))
    first = predict.predict_image(params, cfg, image, derived)
    rederived = trimap_tools.trimap_from_alpha(first, scribbles)
    second = predict.predict_image(params, cfg, image, rederived)
    alphas = {
        "scribbles -> CF": cf_alpha,
        "scribbles -> DCNN": first,
        "scribbles -> DCNN x2": second,
        "Trimap1 -> DCNN": predict.predict_image(params, cfg, image, trimap1),
        "Trimap2 -> DCNN": predict.predict_image(params, cfg, image, trimap2),
    }
    for method, alpha in alphas.items():
      sad, sad_t1 = whole_sad(alpha, gt), region_sad(alpha, gt, trimap1)
      sums.setdefault(method, []).append((sad, sad_t1))
      extra = (f"{100 * trimap_tools.known_fraction(scribbles):.1f} % strokes, derived trimap "
               f"{100 * trimap_tools.known_fraction(derived):.0f} % known, "
               f"{100 * wrong:.2f} % wrong" if method == "scribbles -> DCNN" else "")
      rows.append(dict(zip(COLUMNS, [name, method, f"{sad:.2f}", f"{sad_t1:.2f}", extra])))
    print(f"{name} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
  for method, values in sums.items():
    mean = np.mean(values, axis=0)
    rows.append(dict(zip(COLUMNS, ["mean", method, f"{mean[0]:.2f}", f"{mean[1]:.2f}", ""])))
  print(markdown_table(rows, COLUMNS))
  print(f"\n{len(sums['Trimap1 -> DCNN'])} images, seed {args.seed}, "
        f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
  main()
