"""How much the train step's result depends on the number of CPUs, per XLA CPU flag.

  python benchmarks/determinism.py [--steps 41] [--json]

Runs the same 41 Adam steps of the standard DCNN (batch 64 of seeded random 27x27x5 patches)
in fresh processes pinned to 1 CPU and to 2 CPUs (taskset), once per XLA flag setting, and
prints the largest parameter difference between the two against the largest parameter.
The anchor is the row without flags, measured in the same run. Needs 2 CPUs and taskset.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
FLAGS = ("", "--xla_cpu_multi_thread_eigen=false", "--xla_cpu_use_xnnpack=false",
         "--xla_cpu_use_onednn=false", "--xla_cpu_experimental_ynn_fusion_type=")

CHILD = """
import sys
import jax
import numpy as np
from matting.models.dcnn import default_model_config, make_model
from matting.training import optim, steps

cfg = optim.default_train_config()
cfg.update(optimizer="adam", lr=1e-3, schedule="constant")
state = steps.create_train_state(jax.random.key(0), make_model(default_model_config()), 5,
                                 optim.make_optimizer(cfg))
rng = np.random.default_rng(0)
batches = [{"inputs": rng.random((64, 27, 27, 5), dtype=np.float32),
            "target": rng.random((64, 15, 15), dtype=np.float32)} for _ in range(4)]
for i in range(int(sys.argv[2])):
  state, _ = steps.train_step(state, batches[i % 4])
np.save(sys.argv[1], np.concatenate([np.ravel(np.asarray(p))
                                     for p in jax.tree.leaves(state.params)]))
"""


def run(flag, cpus, steps, out):
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=flag, PYTHONPATH=str(REPO))
  subprocess.run(["taskset", "-c", cpus, sys.executable, "-c", CHILD, out, str(steps)],
                 env=env, check=True, cwd=REPO)
  return np.load(out)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=41)
  parser.add_argument("--json", action="store_true", help="last line: one JSON object")
  args = parser.parse_args()
  if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
    raise SystemExit("needs taskset and at least 2 CPUs")
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for flag in FLAGS:
      one = run(flag, "0", args.steps, os.path.join(tmp, "one.npy"))
      two = run(flag, "0,1", args.steps, os.path.join(tmp, "two.npy"))
      rows.append({"flag": flag or "(none)", "max_diff": float(np.abs(one - two).max()),
                   "max_param": float(np.abs(two).max())})
  anchor = rows[0]["max_diff"]
  print("| XLA flag | max abs param diff, 1 vs 2 CPUs | max abs param | ratio to no flag |")
  print("|---|---|---|---|")
  for row in rows:
    ratio = row["max_diff"] / anchor if anchor else float("nan")
    print(f"| `{row['flag']}` | {row['max_diff']:.2g} | {row['max_param']:.2g} | {ratio:.2g} |")
  if args.json:
    print(json.dumps(rows))


if __name__ == "__main__":
  main()
