"""Multi-host data parallelism for real: two jax.distributed processes on localhost (CPU,
gloo collectives) train exactly as one process on the same global batch."""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from matting.training import checkpoints
from tests.helpers import REPO

SCRIPT = REPO / "tests" / "two_process_train.py"
pytestmark = pytest.mark.slow


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start(out, ckpt, num_processes, process_id, port=None):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
  env.pop("XLA_FLAGS", None)  # One CPU device per process.
  args = [sys.executable, str(SCRIPT), str(out), str(ckpt), str(num_processes),
          str(process_id)] + ([str(port)] if port else [])
  return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def _wait(process):
  output, _ = process.communicate(timeout=240)
  assert process.returncode == 0, output[-3000:]


def test_two_process_training_matches_one_process(tmp_path):
  port = _free_port()
  two = [_start(tmp_path / "two", tmp_path / "run_two", 2, pid, port) for pid in (0, 1)]
  one = _start(tmp_path / "one", tmp_path / "run_one", 1, 0)
  for process in two + [one]:
    _wait(process)
  load = lambda path: json.loads(path.read_text())
  p0, p1 = load(tmp_path / "two" / "process_0.json"), load(tmp_path / "two" / "process_1.json")
  alone = load(tmp_path / "one" / "process_0.json")

  assert (p0["process_count"], p0["devices"], alone["devices"]) == (2, 2, 1)
  assert (p0["rows"], p1["rows"], alone["rows"]) == ([0, 4], [4, 8], [0, 8])
  # Each process placed exactly its rows of the one global draw, and they differ.
  assert all(p0["fed_matches"] + p1["fed_matches"] + alone["fed_matches"])
  for step, (a, b, whole) in enumerate(zip(p0["fed"], p1["fed"], alone["fed"])):
    assert a + b == whole, step
    assert a != b
  params = np.asarray(alone["params"])
  for process in (p0, p1):
    np.testing.assert_allclose(process["params"], params, atol=1e-5)
    np.testing.assert_allclose(process["losses"], alone["losses"], rtol=1e-5)

  # Orbax wrote one multi-process checkpoint, which one process reads back (as `evaluate`
  # does) equal to the one-process parameters.
  assert p0["saved"] and p1["saved"]
  params_two, _, step = checkpoints.restore_params(tmp_path / "run_two")
  assert step == 5
  flat = np.concatenate([np.ravel(p) for p in jax.tree.leaves(params_two)])
  np.testing.assert_allclose(flat, params, atol=1e-5)
