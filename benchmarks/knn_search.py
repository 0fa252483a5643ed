"""KNN matting's neighbour search: pykdtree (what knn.py uses) against SciPy's cKDTree.

  python benchmarks/knn_search.py [--image IMG --trimap TRIMAP] [--repeats 5] [--json]

Both passes of `knn_alpha`'s search (K = 10 with the spatial coordinates, then K = 2 with
them divided by 100) over the pixels within 10 px of the unknown region, as knn.py runs them:
`knn._nearest_neighbours` (a cKDTree built for the leaf order, pykdtree queries, the second
pass reusing the first's order) against the anchor, cKDTree built and queried in its own
leaf order on every core (the previous implementation). Median of --repeats in this process,
and the fraction of searched pixels whose neighbour set is the same (the rest are ties:
equidistant pixels). Defaults: GT26 Trimap1 of ../shared/data/alphamatting when present,
else a seeded 800x600 synthetic example.
"""

import argparse
import json
import pathlib
import statistics
import time

import numpy as np
from scipy.spatial import cKDTree

from matting.classic import knn
from matting.data import datasets, io
from matting.data.trimap import trimap_masks
from matting.memory import avoid_huge_page_stalls
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


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--image")
  parser.add_argument("--trimap")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--json", action="store_true", help="last line: one JSON object")
  args = parser.parse_args()
  avoid_huge_page_stalls()
  image, trimap, name = example(args)
  _, _, unknown = trimap_masks(trimap)
  features = knn.knn_features(image)
  query = knn.search_region(unknown, 10)
  runs = {"pykdtree (knn.py)": knn._nearest_neighbours, "anchor: cKDTree": ckdtree_search}
  seconds, found = {}, {}
  for _ in range(args.repeats):
    for label, fn in runs.items():
      found[label], took = both_passes(fn, features, query)
      seconds.setdefault(label, []).append(took)
  anchor = statistics.median(seconds["anchor: cKDTree"])
  ours, theirs = (np.sort(np.concatenate(found[label], axis=1), axis=1) for label in runs)
  same = (ours == theirs).all(axis=1).mean()
  rows = [{"search": label, "seconds": statistics.median(t),
           "ratio_to_anchor": statistics.median(t) / anchor} for label, t in seconds.items()]
  print(f"image: {name}, {int(query.sum())} searched pixels, median of {args.repeats}")
  print(markdown_table(rows, ["search", "seconds", "ratio_to_anchor"]))
  print(f"searched pixels with the same neighbour sets: {same:.4%}")
  if args.json:
    print(json.dumps({"rows": rows, "same_fraction": float(same)}))


if __name__ == "__main__":
  main()
