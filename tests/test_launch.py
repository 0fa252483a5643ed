"""Smoke tests of launch.py: the main job runs, writes its reports, and rejects bad flags."""

import json
import math

import pytest

from tests.helpers import run_launch

pytestmark = pytest.mark.slow


def test_classic_smoke_writes_reports(tmp_path):
  result = run_launch("--experiment=classic", "--mode=smoke", f"--workdir={tmp_path}",
                  "--config.data.synthetic.num_val=1", "--config.include_pymatting=False")
  assert result.returncode == 0, result.stderr
  assert "| knn |" in result.stdout
  rows = json.loads((tmp_path / "results.json").read_text())["rows"]
  assert {r["method"] for r in rows} == {"cf", "knn"}
  for row in rows:
    for key in ("sad", "mse", "grad", "conn", "seconds"):
      assert math.isfinite(row[key]) and row[key] >= 0
  assert (tmp_path / "report.md").read_text().startswith("# Classic mattes")
  assert "| synthetic | cf |" in result.stdout
  assert (tmp_path / "results.csv").read_text().startswith("set,image,method")


def test_missing_data_dir_exits_2(tmp_path):
  result = run_launch("--mode=smoke", f"--workdir={tmp_path}", f"--data_dir={tmp_path}/nope")
  assert result.returncode == 2
  assert "nope" in result.stderr


def test_unknown_experiment_is_a_usage_error(tmp_path):
  result = run_launch("--experiment=does_not_exist", f"--workdir={tmp_path}")
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip().splitlines() == [
      "launch.py: error: --experiment: no experiments/does_not_exist.py"]


def test_bad_config_value_exits_2_and_writes_nothing(tmp_path):
  workdir = tmp_path / "run"
  for flag, named in (("--config.train.loss=huber", "--config.train.loss"),
                      ("--config.model.conv_impl=fft", "--config.model.conv_impl")):
    result = run_launch("--experiment=dcnn", "--mode=smoke", f"--workdir={workdir}", flag)
    assert result.returncode == 2, result.stderr[-2000:]
    assert named in result.stderr.splitlines()[-1]
    assert not workdir.exists()


def test_points_runs_only_the_named_points(tmp_path):
  result = run_launch("--experiment=ablation_layers", "--mode=smoke", f"--workdir={tmp_path}",
                      "--points=layers_1", "--config.train.steps=4",
                      "--config.train.warmup_steps=1", "--config.checkpoint.every_steps=4")
  assert result.returncode == 0, result.stderr[-2000:]
  assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith("layers"))\
      == ["layers_1"]
  assert "layers_1" in result.stdout and "layers_4" not in result.stdout


def test_unknown_point_exits_2_naming_the_flag(tmp_path):
  result = run_launch("--experiment=ablation_layers", f"--workdir={tmp_path}",
                      "--points=layers_1,layers_3")
  assert result.returncode == 2, result.stderr[-2000:]
  (line,) = result.stderr.strip().splitlines()
  assert line.startswith("launch.py: error: --points: no point 'layers_3'") and "layers_8" in line
  assert not tmp_path.joinpath("layers_1").exists()
