"""End-to-end smoke tests of the training experiments: train, checkpoint, evaluate, report."""

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from matting.data import io, synthetic
from matting.training import checkpoints
from tests.helpers import run_launch

pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[1]
FAST = ("--mode=smoke", "--config.train.steps=20", "--config.checkpoint.every_steps=10",
        "--config.train.log_every=10")




@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
  root = tmp_path_factory.mktemp("ablation")
  cache = root / "cache"
  result = run_launch("--experiment=ablation_layers", *FAST, f"--workdir={root / 'run'}",
                  f"--config.cache_dir={cache}")
  assert result.returncode == 0, result.stderr[-3000:]
  return root / "run", cache, result


def test_ablation_report_has_every_point_and_baseline(ablation):
  workdir, _, result = ablation
  summary = json.loads((workdir / "results.json").read_text())["summary"]
  methods = [row["method"] for row in summary]
  assert methods == ["cf", "knn", "dcnn:layers_1", "dcnn:layers_4", "dcnn:layers_8"]
  for row in summary:
    for key in ("sad", "mse", "grad", "conn"):
      assert math.isfinite(row[key]) and row[key] >= 0
    if row["method"].startswith("dcnn"):
      assert row["seconds"] > 0
  assert "| dcnn:layers_8 |" in (workdir / "report.md").read_text()
  assert (workdir / "results.csv").exists()
  figures = sorted(p.name for p in (workdir / "figures").iterdir())
  assert "loss_curves.png" in figures and "response_maps.png" in figures
  assert any(name.startswith("synthetic_syn") for name in figures)
  for point in ("layers_1", "layers_4", "layers_8"):
    history = json.loads((workdir / point / "history.json").read_text())
    assert [h["step"] for h in history["val"]] == [10, 20]
    assert sorted(p.name for p in (workdir / point / "checkpoints").iterdir()) == ["10", "20"]


def test_training_lowered_the_loss(ablation):
  workdir, _, _ = ablation
  history = json.loads((workdir / "layers_4" / "history.json").read_text())
  assert history["train"][-1]["loss"] < history["train"][0]["loss"]
  # Held-out synthetic images: the loss on their patches falls between the two checkpoints.
  val = [point["synthetic"]["val_loss"] for point in history["val"]]
  assert len(val) == 2 and val[-1] < val[0], val


def test_relaunch_skips_finished_points(ablation):
  workdir, cache, _ = ablation
  stamp = (workdir / "layers_1" / "result.json").stat().st_mtime_ns
  result = run_launch("--experiment=ablation_layers", *FAST, f"--workdir={workdir}",
                  f"--config.cache_dir={cache}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stderr.count("already finished") == 3
  assert (workdir / "layers_1" / "result.json").stat().st_mtime_ns == stamp


def evaluated_rows(workdir, cache, runs, *flags):
  """The rows of `launch.py --experiment=evaluate` (smoke) of `runs` into `workdir`."""
  runs = ", ".join(f"'{run}'" for run in runs)
  result = run_launch("--experiment=evaluate", "--mode=smoke", f"--workdir={workdir}",
                      f"--config.cache_dir={cache}", f"--config.runs=({runs},)", *flags)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads((workdir / "results.json").read_text())["rows"]


def test_evaluate_every_checkpoint(ablation, tmp_path):
  workdir, cache, _ = ablation
  rows = evaluated_rows(tmp_path, cache, [workdir], "--config.all_steps=True")
  methods = {r["method"] for r in rows}
  assert methods == {"cf", "knn"} | {f"dcnn:layers_{n}@{s}" for n in (1, 4, 8)
                                     for s in (10, 20)}


def test_evaluate_a_weights_file_beside_a_run(ablation, tmp_path):
  workdir, cache, _ = ablation
  weights = tmp_path / "exported.npz"
  checkpoints.export_weights(workdir / "layers_1", weights, "best")
  rows = evaluated_rows(tmp_path / "eval", cache, [weights, workdir / "layers_1"])
  by_method = {r["method"]: r for r in rows}
  assert set(by_method) == {"cf", "knn", "dcnn:exported", "dcnn:layers_1"}
  for key in ("sad", "mse", "grad", "conn"):  # The same parameters, so the same scores.
    assert math.isfinite(by_method["dcnn:exported"][key])
    assert by_method["dcnn:exported"][key] == by_method["dcnn:layers_1"][key]


def test_evaluate_with_symmetries_labels_the_averaged_rows(ablation, tmp_path):
  workdir, cache, _ = ablation
  rows = evaluated_rows(tmp_path, cache, [workdir / "layers_1"], "--config.symmetries=2")
  assert {r["method"] for r in rows} == {"cf", "knn", "dcnn:layers_1+sym2"}
  assert all(math.isfinite(r["sad"]) for r in rows)


def test_predict_cli_with_trained_checkpoint(ablation, tmp_path):
  workdir, _, _ = ablation
  example = synthetic.make_example(7, 96, 128, unknown_width=6)
  io.write_rgb(tmp_path / "image.png", example.image)
  io.write_alpha(tmp_path / "trimap.png", example.trimap)
  out = tmp_path / "alpha.png"
  result = subprocess.run([sys.executable, "-m", "matting.cli", "predict", tmp_path / "image.png",
                           tmp_path / "trimap.png", "--checkpoint", workdir / "layers_4",
                           "-o", out], capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  alpha = io.read_alpha(out)
  assert alpha.shape == example.alpha.shape
  np.testing.assert_array_equal(alpha[example.trimap == 1.0], 1.0)
  np.testing.assert_array_equal(alpha[example.trimap == 0.0], 0.0)
  unknown = example.trimap == 0.5
  assert np.abs(alpha - example.alpha)[unknown].mean() < np.abs(0.5 - example.alpha)[unknown].mean()


def test_predict_cli_rejects_missing_checkpoint(tmp_path, example_files):
  result = subprocess.run([sys.executable, "-m", "matting.cli", "predict",
                           example_files["image"], example_files["trimap"], "--checkpoint",
                           tmp_path / "nothing", "-o", tmp_path / "a.png"],
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 2 and "--checkpoint" in result.stderr
  assert not (tmp_path / "a.png").exists()
