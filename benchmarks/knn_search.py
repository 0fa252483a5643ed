"""KNN matting's neighbour search: pykdtree (what knn.py uses) against SciPy's cKDTree.

  python benchmarks/knn_search.py [--image IMG --trimap TRIMAP] [--repeats 5]
      [--eps 0,0.5] [--sad [--rtol 1e-7,1e-6] [--data_dir ../shared/data/alphamatting]]
      [--json]

Both passes of `knn_alpha`'s search (K = 10 with the spatial coordinates, then K = 2 with
them divided by 100) over the pixels within 10 px of the unknown region, as knn.py runs them:
`knn._nearest_neighbours` (a cKDTree built for the leaf order, pykdtree queries, the second
pass reusing the first's order) at each tolerance of --eps (0: exact; > 0: pykdtree's
approximate search, `knn_alpha(search_eps)`) against the anchor, cKDTree's exact search
built and queried in its own leaf order on every core (the implementation before pykdtree).
Median of --repeats in this process, and the fraction of searched pixels whose neighbour set
is the anchor's (exact rows differ only by ties between equidistant pixels). Defaults: GT26
Trimap1 of ../shared/data/alphamatting when present, else a seeded 800x600 synthetic example.

--sad adds what each tolerance costs the mattes: every image of the alphamatting training
set with both trimaps, `knn_alpha` at each --eps and each CG tolerance of --rtol
(`knn_alpha(rtol)`; its seconds summed over the set), the mean
SAD (/1000, unknown pixels) of the KNN matte and of the shipped DCNN fed that matte beside
the closed-form one (solved once per image), and the DCNN's largest per-image SAD change
against the first (eps, rtol).
"""

import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np
from scipy.spatial import cKDTree

from matting.classic import closed_form, knn
from matting.data import datasets, io
from matting.data.trimap import trimap_masks
from matting.evaluators import metrics
from matting.inputs import stacks
from matting.memory import avoid_huge_page_stalls
from matting.models import inference, weights
from matting.reports.tables import markdown_table

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting"


def example(args):
  """(image, trimap, description): the arguments, GT26 Trimap1, or a synthetic example."""
  if args.image:
    return (*io.read_image_and_trimap(args.image, args.trimap), args.image)
  if (DATA / "input_training_lowres" / "GT26.png").exists():
    return (*io.read_image_and_trimap(DATA / "input_training_lowres" / "GT26.png",
                                      DATA / "trimap_training_lowres" / "Trimap1" / "GT26.png"),
            "GT26 Trimap1")
  ex = datasets.synthetic_set(seed=0, num=1, height=600, width=800)[0]
  return ex.image, ex.trimap, "synthetic 800x600 (seed 0)"


def ckdtree_search(points, k, query, order=None):
  """The anchor: the previous implementation's exact search, with `knn._nearest_neighbours`'
  signature and result ((S, k) neighbours, self excluded; the leaf order); it builds its own
  tree and order on every pass."""
  del order
  tree = cKDTree(points, leafsize=32, balanced_tree=False, compact_nodes=False)
  queries = tree.indices[query[tree.indices]]
  _, found = tree.query(points[queries], k=k + 1, workers=-1)
  return knn.without_self(found, queries, query), tree.indices


def both_passes(search_fn, features, query):
  """Neighbours of both passes, and the seconds they took."""
  points, found, order = features.copy(), [], None
  start = time.perf_counter()
  for k in (10, 2):
    neighbours, order = search_fn(points, k, query, order)
    found.append(neighbours)
    points[:, -2:] *= knn.SPATIAL_DECAY
  return found, time.perf_counter() - start


def search_rows(args, eps_values):
  """The search table: seconds per tolerance and the anchor, neighbour sets as the anchor's."""
  image, trimap, name = example(args)
  _, _, unknown = trimap_masks(trimap)
  features = knn.knn_features(image)
  query = knn.search_region(unknown, 10)
  anchor_label = "anchor: cKDTree"
  runs = {f"pykdtree eps={eps:g}" + (" (knn.py)" if eps == knn.SEARCH_EPS else ""):
          lambda p, k, q, o, eps=eps: knn._nearest_neighbours(p, k, q, o, eps)
          for eps in eps_values}
  runs[anchor_label] = ckdtree_search
  seconds, found = {}, {}
  for _ in range(args.repeats):
    for label, fn in runs.items():
      found[label], took = both_passes(fn, features, query)
      seconds.setdefault(label, []).append(took)
  anchor = statistics.median(seconds[anchor_label])
  theirs = np.sort(np.concatenate(found[anchor_label], axis=1), axis=1)
  rows = []
  for label, times in seconds.items():
    ours = np.sort(np.concatenate(found[label], axis=1), axis=1)
    rows.append({"search": label, "seconds": statistics.median(times),
                 "ratio_to_anchor": statistics.median(times) / anchor,
                 "same_sets_%": 100 * (ours == theirs).all(axis=1).mean()})
  print(f"image: {name}, {int(query.sum())} searched pixels, median of {args.repeats}")
  print(markdown_table(rows, ["search", "seconds", "ratio_to_anchor", "same_sets_%"]))
  return rows


def sad_rows(data_dir, eps_values, rtol_values=(knn.RTOL,)):
  """The SAD table over the alphamatting training set, both trimaps (see the docstring)."""
  params, cfg = weights.load_params(weights.default_weights())
  # (knn seconds, knn SAD, DCNN SAD) per pair, for every (eps, rtol).
  per_pair = {(eps, rtol): [] for eps in eps_values for rtol in rtol_values}
  for trimap_name in ("Trimap1", "Trimap2"):
    for ex in datasets.load_alphamatting(data_dir, trimap_name):
      cf = closed_form.closed_form_alpha(ex.image, ex.trimap)
      for eps, rtol in per_pair:
        tic = time.perf_counter()
        matte = knn.knn_alpha(ex.image, ex.trimap, search_eps=eps, rtol=rtol)
        took = time.perf_counter() - tic
        stack = stacks.input_stack(ex.image, ex.trimap, {"cf": cf, "knn": matte},
                                   cfg.inputs.combination)
        alpha = inference.run_network(params, cfg.model, stack, keep_known=ex.trimap,
                                      engine="numpy")
        per_pair[eps, rtol].append((took, metrics.sad(matte, ex.alpha, ex.trimap),
                                    metrics.sad(alpha, ex.alpha, ex.trimap), trimap_name))
      print(f"{trimap_name} {ex.name}", file=sys.stderr, flush=True)
  base = next(iter(per_pair.values()))
  rows = []
  for (eps, rtol), pairs in per_pair.items():
    row = {"eps": eps, "rtol": rtol, "pairs": len(pairs), "knn_s": sum(p[0] for p in pairs)}
    for trimap_name in ("Trimap1", "Trimap2"):
      mine = [p for p in pairs if p[3] == trimap_name]
      row[f"knn_sad_{trimap_name}"] = np.mean([p[1] for p in mine])
      row[f"dcnn_sad_{trimap_name}"] = np.mean([p[2] for p in mine])
    row["dcnn_max_change_%"] = max(100 * abs(p[2] / b[2] - 1) for p, b in zip(pairs, base))
    rows.append(row)
  print(f"alphamatting training set ({data_dir}), both trimaps, shipped DCNN")
  print(markdown_table(rows, list(rows[0])))
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--image")
  parser.add_argument("--trimap")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--eps", default=f"0,{knn.SEARCH_EPS:g}",
                      help="comma-separated search tolerances (default: exact and knn.py's)")
  parser.add_argument("--sad", action="store_true", help="also the SAD table (see above)")
  parser.add_argument("--rtol", default=f"{knn.RTOL:g}",
                      help="with --sad: comma-separated CG tolerances (default knn.py's)")
  parser.add_argument("--data_dir", default=str(DATA))
  parser.add_argument("--json", action="store_true", help="last line: one JSON object")
  args = parser.parse_args()
  avoid_huge_page_stalls()
  eps_values = [float(v) for v in args.eps.split(",")]
  result = {"rows": search_rows(args, eps_values)}
  if args.sad:
    result["sad_rows"] = sad_rows(args.data_dir, eps_values,
                                  [float(v) for v in args.rtol.split(",")])
  if args.json:
    print(json.dumps(result))


if __name__ == "__main__":
  main()
