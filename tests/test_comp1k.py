"""Composition-1k as a data source (layout detection, DIM composites, the composed test
set), the sharded classic-matte precompute, and seeded sweeps, on generated trees."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import comp1k as comp1k_experiment
from matting import runner
from matting.classic import precompute
from matting.data import comp1k, splits
from matting.errors import MattingInputError
from tests.comp1k_tree import make_alphamatting_tree, make_comp1k_tree
from tests.helpers import REPO, run_launch


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
  return make_comp1k_tree(str(tmp_path_factory.mktemp("comp1k")))


def data_cfg(root, **comp1k_overrides):
  cfg = comp1k_experiment.get_config("smoke").data
  cfg.dir, cfg.layout = root, "auto"
  cfg.comp1k.update(num_fg=0, num_test=0, num_bg=2, **comp1k_overrides)
  return cfg


def test_layout_is_detected(tree, tmp_path):
  assert comp1k.layout_of(data_cfg(tree)) == "comp1k"
  alphamatting = make_alphamatting_tree(str(tmp_path / "am"))
  assert comp1k.layout_of(data_cfg(alphamatting)) == "alphamatting"
  train, val = splits.split_examples(data_cfg(alphamatting))
  assert len(train) == 2 and set(val) == {"alphamatting_Trimap1", "alphamatting_Trimap2"}
  (tmp_path / "other").mkdir()
  with pytest.raises(MattingInputError) as error:
    comp1k.layout_of(data_cfg(str(tmp_path / "other")))
  assert error.value.field == "data.dir"
  bad = data_cfg(tree)
  bad.layout = "coco"
  with pytest.raises(MattingInputError, match="coco") as error:
    comp1k.layout_of(bad)
  assert error.value.field == "data.layout"


def test_foregrounds_at_any_depth_and_test_set(tree):
  names = [name for name, _, _ in comp1k.foreground_pairs(tree)]
  assert names == ["Adobe-licensed images/fg0", "Adobe-licensed images/fg1", "Other/fg0"]
  train, val = splits.split_examples(data_cfg(tree))
  assert [e.name for e in train][:2] == ["Adobe-licensed images/fg0_bg0",
                                         "Adobe-licensed images/fg0_bg1"]
  assert len(train) == 3 * 2 and list(val) == [comp1k.TEST_SET]
  assert [e.name for e in val[comp1k.TEST_SET]] == ["test0", "test1"]
  assert splits.validation_sets(data_cfg(tree))[comp1k.TEST_SET][0].name == "test0"
  for example in train:
    assert example.image.shape == example.alpha.shape + (3,)
    assert set(np.unique(example.trimap)) == {0.0, 0.5, 1.0}
    # Known trimap pixels keep their alpha: the band only grows from alpha's fractional part.
    assert np.all(example.alpha[example.trimap == 1.0] == 1.0)
    assert np.all(example.alpha[example.trimap == 0.0] == 0.0)
  # Each foreground gets different backgrounds, dealt from a seeded permutation.
  assert not np.array_equal(train[0].image, train[1].image)
  again, _ = splits.split_examples(data_cfg(tree))
  assert all(np.array_equal(a.image, b.image) and np.array_equal(a.trimap, b.trimap)
             for a, b in zip(train, again))
  other, _ = splits.split_examples(data_cfg(tree, seed=1))
  assert not all(np.array_equal(a.trimap, b.trimap) for a, b in zip(train, other))


def test_dim_background_fit_and_random_trimap():
  bg = np.random.default_rng(0).random((10, 20, 3)).astype(np.float32)
  np.testing.assert_array_equal(comp1k.fit_background_dim(bg, 8, 12), bg[:8, :12])
  covered = comp1k.fit_background_dim(bg, 30, 25)  # Upscaled by 3 to cover, then cropped.
  assert covered.shape == (30, 25, 3)
  alpha = np.zeros((40, 40), np.float32)
  alpha[10:30, 10:30] = 1.0
  alpha[9, 10:30] = 0.5
  rng = lambda: np.random.default_rng(5)
  trimap = comp1k.random_trimap(alpha, rng(), (2, 6))
  np.testing.assert_array_equal(trimap, comp1k.random_trimap(alpha, rng(), (2, 6)))
  assert trimap[9, 20] == 0.5 and trimap[20, 20] == 1.0 and trimap[0, 0] == 0.0
  # A band too wide for the foreground still leaves some of it known.
  assert (comp1k.random_trimap(alpha, rng(), (50, 50)) == 1.0).any()


def test_missing_backgrounds_name_their_field(tree, tmp_path):
  cfg = data_cfg(tree)
  cfg.bg_dir = str(tmp_path / "nothing")
  with pytest.raises(MattingInputError) as error:
    splits.split_examples(cfg)
  assert error.value.field == "data.bg_dir"


def test_seed_rows_mean_and_spread():
  from matting.reports import tables
  summary = [{"set": "s", "method": "cf", "images": 2, "sad": 1.0},
             {"set": "s", "method": "dcnn:p/seed_0", "images": 2, "sad": 1.0},
             {"set": "s", "method": "dcnn:p/seed_1", "images": 2, "sad": 3.0}]
  (row,) = tables.seed_rows(summary, ("sad",))
  assert (row["method"], row["seeds"], row["sad"]) == ("dcnn:p", 2, 2.0)
  assert row["sad_std"] == pytest.approx(np.sqrt(2.0))
  assert "2 ± 1.414" in tables.markdown_table([row], ("method", "sad"), spread=True)
  assert [name for _, name in runner.sweep_points([{"name": "a"}], [0, 1])] == [
      os.path.join("a", "seed_0"), os.path.join("a", "seed_1")]


def test_shards_split_the_work_deterministically(tree):
  train, val = splits.split_examples(data_cfg(tree))
  groups = [(train, ("cf", "knn")), (val[comp1k.TEST_SET], ("cf", "knn"))]
  items = [item[:2] for item in precompute.work_items("unused", groups)]
  assert len(items) == len(set(items)) == (6 + 2) * 2
  assert precompute.parse_shard("1/3") == (1, 3)
  for bad in ("3/3", "1", "a/b", "-1/2"):
    with pytest.raises(MattingInputError):
      precompute.parse_shard(bad)


@pytest.fixture(scope="module")
def sharded_then_seeded(tree, tmp_path_factory):
  """Two precompute shards at once, an unsharded precompute, then a 2-seed comp1k smoke run."""
  tmp = tmp_path_factory.mktemp("runs")
  common = ["--experiment=comp1k", "--mode=smoke", f"--data_dir={tree}",
            f"--config.cache_dir={tmp / 'cache'}"]
  shards = [subprocess.Popen([sys.executable, "launch.py", *common, "--precompute",
                              f"--shard={i}/2"], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for i in (0, 1)]
  shard_out = [p.communicate(timeout=300) for p in shards]
  assert all(p.returncode == 0 for p in shards), [err[-2000:] for _, err in shard_out]
  unsharded = run_launch(*common, "--precompute")
  workdir = tmp / "run"
  seeded = run_launch(*common, f"--workdir={workdir}", "--seeds=0,1", "--config.train.steps=6",
                      "--config.checkpoint.every_steps=6", "--config.train.log_every=6",
                      "--config.train.warmup_steps=1")
  evaluate = run_launch("--experiment=evaluate", "--mode=smoke", f"--data_dir={tree}",
                        f"--config.cache_dir={tmp / 'cache'}", f"--workdir={tmp / 'eval'}",
                        f'--config.runs=("{workdir}",)')
  return {"shards": [out for out, _ in shard_out], "unsharded": unsharded, "seeded": seeded,
          "evaluate": evaluate, "workdir": workdir, "eval_dir": tmp / "eval"}


@pytest.mark.slow
def test_two_shards_at_once_then_all_cached(sharded_then_seeded):
  counts = [line for out in sharded_then_seeded["shards"] for line in out.splitlines()
            if line.startswith("precompute shard")]
  # 2 foregrounds x 1 background and 2 test images, each with cf and knn.
  assert "8 mattes needed" in counts[0] and "8 mattes needed" in counts[1]
  computed = [int(line.split(" computed by")[0].rsplit(" ", 1)[1]) for line in counts]
  assert sum(computed) == 8 and all(c > 0 for c in computed)
  result = sharded_then_seeded["unsharded"]
  assert result.returncode == 0, result.stderr[-2000:]
  assert "8 mattes needed, 8 already cached, 0 computed" in result.stdout


@pytest.mark.slow
def test_seeded_comp1k_smoke_reports_mean_and_spread(sharded_then_seeded):
  result, workdir = sharded_then_seeded["seeded"], sharded_then_seeded["workdir"]
  assert result.returncode == 0, result.stderr[-3000:]
  assert "classic mattes ->" not in result.stderr  # All precomputed.
  for seed in (0, 1):
    cfg = json.loads((workdir / f"seed_{seed}" / "config.json").read_text())
    assert cfg["seed"] == seed
  report = (workdir / "report.md").read_text()
  assert "Mean ± standard deviation over seeds" in report and " ± " in report
  assert "dcnn:run/seed_0" in report and "dcnn:run/seed_1" in report
  assert "comp1k_test" in report
  results = json.loads((workdir / "results.json").read_text())
  (spread,) = [r for r in results["seeds"] if r["method"] == "dcnn:run"]
  per_seed = [r["sad"] for r in results["summary"] if r["method"].startswith("dcnn:run/")]
  assert spread["seeds"] == 2 and spread["sad"] == pytest.approx(np.mean(per_seed))
  assert spread["sad_std"] == pytest.approx(np.std(per_seed, ddof=1))


@pytest.mark.slow
def test_evaluate_reads_the_comp1k_layout(sharded_then_seeded):
  result = sharded_then_seeded["evaluate"]
  assert result.returncode == 0, result.stderr[-3000:]
  report = (sharded_then_seeded["eval_dir"] / "report.md").read_text()
  assert "comp1k_test" in report and "dcnn:run/seed_1" in report and " ± " in report


def test_foreground_without_opaque_pixels_is_skipped(tmp_path):
  import imageio.v3 as iio
  root = make_comp1k_tree(str(tmp_path / "c"), num_train=(1, 1), num_test=1, num_bg=1,
                          size=(64, 64))
  iio.imwrite(os.path.join(root, "Training_set", "Other", "alpha", "fg0.png"),
              np.full((64, 64), 128, np.uint8))  # A glass: nothing opaque.
  train = comp1k.training_examples(root, "", 1, 0, (1, 4))
  assert [e.name for e in train] == ["Adobe-licensed images/fg0_bg0"]
