"""Damaged files and bad config values give one line (or heal), never a traceback (issue 15).

Every damaged file is made here from a real one: a classic-matte or patch-set cache entry, an
orbax checkpoint of a tiny training run, an exported weights file, an atomic write.
"""

import dataclasses
import glob
import logging
import os
import shutil
import sys
import time

import numpy as np
import pytest

from matting import cli
from matting.classic import cache
from matting.data import io
from matting.errors import MattingInputError
from matting.inputs import training_set
from matting.models import weights
from matting.training import checkpoints, config_checks
from tests.conftest import two_colour_example
from tests.helpers import run_launch
from tests.test_weights import BEST_STEP, LATEST_STEP, make_tiny_run

# --- Caches heal themselves ---------------------------------------------------------------

def _damage_file(path, how):
  if how == "truncated":
    with open(path, "r+b") as f:
      f.truncate(os.path.getsize(path) // 2)
  else:  # empty
    open(path, "wb").close()


@dataclasses.dataclass(frozen=True)
class Ex:
  name: str
  image: np.ndarray
  trimap: np.ndarray


@pytest.mark.parametrize("how", ["truncated", "empty"])
def test_damaged_matte_cache_entry_is_logged_deleted_and_recomputed(tmp_path, caplog, how):
  image, trimap, _ = two_colour_example(16, 20)
  fresh = cache.cached_matte(tmp_path, "cf", image, trimap)
  (entry,) = (tmp_path / "cf").iterdir()
  _damage_file(entry, how)
  with caplog.at_level(logging.WARNING):
    healed = cache.cached_matte(tmp_path, "cf", image, trimap)
  np.testing.assert_array_equal(healed, fresh)
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert len(warnings) == 1 and str(entry) in warnings[0]
  caplog.clear()
  with caplog.at_level(logging.WARNING):  # Healed: the next run reads it silently.
    np.testing.assert_array_equal(cache.cached_matte(tmp_path, "cf", image, trimap), fresh)
  assert not caplog.records


def test_damaged_entries_are_recomputed_by_the_batch_cache(tmp_path, caplog):
  exs = [Ex(f"ex{i}", *two_colour_example(16, 20, seed=i)[:2]) for i in range(2)]
  fresh = cache.cached_mattes(tmp_path, exs, ["cf"], processes=1, progress=False)
  entries = sorted((tmp_path / "cf").iterdir())
  _damage_file(entries[0], "truncated")
  _damage_file(entries[1], "empty")
  with caplog.at_level(logging.WARNING):
    healed = cache.cached_mattes(tmp_path, exs, ["cf"], processes=1, progress=False)
  for a, b in zip(fresh, healed):
    np.testing.assert_array_equal(a["cf"], b["cf"])
  logged = " ".join(r.getMessage() for r in caplog.records)
  assert all(str(e) in logged for e in entries)


def test_damaged_patch_set_is_rebuilt(tmp_path, monkeypatch, caplog):
  from experiments.common import train_config
  cfg = train_config("smoke")
  built = []

  def fake_build(cfg, train_examples, cache_dir):
    built.append(1)
    return {"inputs": np.zeros((4, 27, 27, 5), np.float16),
            "targets": np.zeros((4, 15, 15), np.float32), "counts": np.arange(3)}

  monkeypatch.setattr(training_set, "_build_train_patches", fake_build)
  training_set.train_patches(cfg, [], str(tmp_path))
  (path,) = glob.glob(str(tmp_path / "patches" / "*.npz"))
  for how in ("truncated", "empty"):
    _damage_file(path, how)
    with caplog.at_level(logging.WARNING):
      patch_set = training_set.train_patches(cfg, [], str(tmp_path))
    assert len(patch_set["targets"]) == 4
    assert path in caplog.records[-1].getMessage()
  assert len(built) == 3
  training_set.train_patches(cfg, [], str(tmp_path))  # Healed: read, not rebuilt.
  assert len(built) == 3


def test_patch_set_that_cannot_be_cached_is_used_with_a_warning(tmp_path, monkeypatch, caplog):
  """A full disk when caching the patch set (72 GB of cached sets filled one here) leaves no
  file and does not stop the run."""
  import errno
  from experiments.common import train_config
  cfg = train_config("smoke")
  monkeypatch.setattr(training_set, "_build_train_patches", lambda *_: {
      "inputs": np.zeros((4, 27, 27, 5), np.float16),
      "targets": np.zeros((4, 15, 15), np.float32), "counts": np.arange(3)})

  def full_disk(file, **arrays):
    with open(file, "wb") as f:
      f.write(b"PK\x03\x04 half an archive")
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(training_set.np, "savez", full_disk)
  with caplog.at_level(logging.WARNING):
    patch_set = training_set.train_patches(cfg, [], str(tmp_path))
  assert len(patch_set["targets"]) == 4
  assert "No space left on device" in caplog.records[-1].getMessage()
  assert not list(tmp_path.rglob("*"))  # No file, temporary or directory left.


# --- Atomic writes ------------------------------------------------------------------------

def test_atomic_write_is_fsynced_before_the_rename(tmp_path, monkeypatch):
  events = []
  real_fsync, real_replace = os.fsync, os.replace
  monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
  monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
  io.write_json(tmp_path / "a.json", {"x": 1})
  assert events[:2] == ["fsync", "replace"]


def test_failed_write_names_the_output_and_leaves_nothing(tmp_path):
  out = tmp_path / "new" / "deeper" / "a.png"
  with pytest.raises(OSError) as error:
    with io.atomic_path(out) as tmp:
      raise PermissionError(13, "Permission denied", tmp)
  assert str(out) in str(error.value) and io.TEMP_MARK not in str(error.value)
  assert os.listdir(tmp_path) == []  # Neither the file, its temporary, nor new directories.
  with pytest.raises(MattingInputError) as error:
    with io.atomic_path(tmp_path / "b.png") as tmp:
      raise ValueError(f"cannot encode {tmp}")
  assert str(tmp_path / "b.png") in str(error.value) and io.TEMP_MARK not in str(error.value)
  assert os.listdir(tmp_path) == []


def test_stale_temporaries_are_removed_by_the_next_write(tmp_path):
  stale = tmp_path / f".alpha.abcd1234{io.TEMP_MARK}.png"
  young = tmp_path / f".other.efgh5678{io.TEMP_MARK}.png"
  user_file = tmp_path / ".alpha.abcd1234.tmp.png"  # Not our pattern: never touched.
  for path in (stale, young, user_file):
    path.write_bytes(b"partial")
  old = time.time() - io.STALE_TEMP_SECONDS - 60
  os.utime(stale, (old, old))
  os.utime(user_file, (old, old))
  io.write_alpha(tmp_path / "alpha.png", np.zeros((4, 4), np.float32))
  assert sorted(os.listdir(tmp_path)) == sorted([young.name, user_file.name, "alpha.png"])


@pytest.mark.parametrize("name, kinds, ok", [
    ("a.png", io.ALPHA_OUTPUTS, True), ("a.NPY", io.ALPHA_OUTPUTS, True),
    ("a.txt", io.ALPHA_OUTPUTS, False), ("a", io.ALPHA_OUTPUTS, False),
    ("a.jpg", io.RGB_OUTPUTS, True), ("a.npy", io.RGB_OUTPUTS, False)])
def test_check_output_path(tmp_path, name, kinds, ok):
  if ok:
    io.check_output_path(tmp_path / name, kinds)
  else:
    with pytest.raises(MattingInputError, match=name) as error:
      io.check_output_path(tmp_path / name, kinds)
    assert error.value.field == "output"


@pytest.mark.parametrize("command, output", [
    (["predict"], "alpha.txt"), (["classic"], "alpha"),
    (["cutout", "--background", "white"], "cut.txt")])
def test_cli_rejects_output_type_before_any_work(monkeypatch, example_files, tmp_path, capsys,
                                                 command, output):
  def fail(*args, **kwargs):
    raise AssertionError("ran before the output name was checked")

  monkeypatch.setattr(io, "read_image_and_trimap", fail)
  out = tmp_path / "new" / output
  assert cli.main([command[0], str(example_files["image"]), str(example_files["trimap"]),
                   *command[1:], "-o", str(out)]) == cli.EXIT_BAD_INPUT
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith(f"matting: error: --output {out}: unsupported")
  assert not (tmp_path / "new").exists()


# --- 16-bit PNGs --------------------------------------------------------------------------

def test_16bit_rgb_png_is_read_at_full_precision(tmp_path):
  from tests.test_io import _write_png16
  pixels = (np.random.default_rng(0).random((3, 4, 3)) * 65535).astype(np.uint16)
  _write_png16(tmp_path / "c16.png", pixels)
  image = io.read_image(tmp_path / "c16.png")
  np.testing.assert_allclose(image, pixels / 65535.0, atol=1e-7)


def test_16bit_rgb_png_without_pypng_warns_once(tmp_path, monkeypatch):
  from tests.test_io import _write_png16
  pixels = (np.random.default_rng(0).random((3, 4, 3)) * 65535).astype(np.uint16)
  _write_png16(tmp_path / "c16.png", pixels)
  monkeypatch.setitem(sys.modules, "png", None)  # `import png` raises ImportError.
  monkeypatch.setattr(io, "_warned_png16", False)
  with pytest.warns(UserWarning, match="8-bit precision"):
    image = io.read_image(tmp_path / "c16.png")
  np.testing.assert_allclose(image, pixels / 65535.0, atol=1.0 / 255)
  import warnings
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    io.read_image(tmp_path / "c16.png")  # Once per process.


# --- Checkpoints --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pristine_run(tmp_path_factory):
  return str(make_tiny_run(tmp_path_factory.mktemp("pristine")))


def damage_step(run_dir, step, how):
  """Damages checkpoint `step` of a run the way a crash or a full disk can."""
  step_dir = os.path.join(run_dir, "checkpoints", str(step))
  data = sorted(glob.glob(os.path.join(step_dir, "default", "ocdbt.process_0", "d", "*")))
  if how == "truncated":
    for path in data:
      _damage_file(path, "truncated")
  elif how == "data_deleted":
    for path in data:
      os.remove(path)
  elif how == "metadata_deleted":
    os.remove(os.path.join(step_dir, "default", "_METADATA"))
  elif how == "emptied":
    shutil.rmtree(step_dir)
    os.makedirs(step_dir)


@pytest.fixture
def run_copy(pristine_run, tmp_path):
  path = str(tmp_path / "run")
  shutil.copytree(pristine_run, path)
  return path


@pytest.mark.parametrize("how", ["truncated", "data_deleted", "metadata_deleted", "emptied"])
def test_restore_falls_back_to_the_newest_intact_checkpoint(run_copy, how):
  damage_step(run_copy, LATEST_STEP, how)
  with pytest.warns(UserWarning, match=f"step {LATEST_STEP} is damaged") as record:
    params, _, step = checkpoints.restore_params(run_copy, "latest")
  assert step == BEST_STEP and len(record) == 1
  assert params["params"]["structure"]["kernel"].ndim == 4
  with pytest.raises(MattingInputError, match=f"step {LATEST_STEP} is damaged") as error:
    checkpoints.restore_params(run_copy, LATEST_STEP)  # An explicit step: no fallback.
  assert error.value.field == "step"


def test_no_intact_checkpoint_is_one_error(run_copy):
  damage_step(run_copy, BEST_STEP, "truncated")
  damage_step(run_copy, LATEST_STEP, "emptied")
  with pytest.raises(MattingInputError, match="no intact checkpoint") as error:
    checkpoints.restore_params(run_copy)
  assert error.value.field == "checkpoint"


def test_cli_predict_and_export_with_damaged_checkpoints(run_copy, example_files, tmp_path,
                                                         capsys):
  damage_step(run_copy, BEST_STEP, "truncated")  # The best: predict falls back to step 2.
  out = tmp_path / "a.png"
  image, trimap = str(example_files["image"]), str(example_files["trimap"])
  assert cli.main(["predict", image, trimap, "--checkpoint", run_copy, "-o", str(out)]) == 0
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("matting: warning: ") and "step 1" in err[0]
  assert out.exists()
  weights_out = tmp_path / "w.npz"
  assert cli.main(["export", run_copy, "--step", str(BEST_STEP), "-o",
                   str(weights_out)]) == cli.EXIT_BAD_INPUT
  err = capsys.readouterr().err.strip().splitlines()
  assert err == [f"matting: error: --step {run_copy}: checkpoint at step {BEST_STEP} is damaged "
                 "(an array file is truncated or missing)"]
  # (Emptied: this process has read step 2, and tensorstore caches what it read.)
  damage_step(run_copy, LATEST_STEP, "emptied")
  assert cli.main(["export", run_copy, "-o", str(weights_out)]) == cli.EXIT_BAD_INPUT
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "no intact checkpoint" in err[0]
  assert not weights_out.exists()


def test_damaged_run_config_is_one_error(run_copy):
  with open(os.path.join(run_copy, checkpoints.CONFIG_NAME), "r+") as f:
    f.truncate(10)
  with pytest.raises(MattingInputError, match="unreadable run config") as error:
    checkpoints.restore_params(run_copy)
  assert error.value.field == "checkpoint"


def _fresh_state(run_dir, seed=7):
  import jax

  from matting.inputs import stacks
  from matting.models.dcnn import make_model
  from matting.training import optim, steps
  cfg = checkpoints.read_config(run_dir)
  return cfg, steps.create_train_state(
      jax.random.key(seed), make_model(cfg.model), stacks.num_channels(cfg.inputs.combination),
      optim.make_optimizer(cfg.train), cfg.train.loss)


def test_training_resumes_from_the_newest_intact_checkpoint(run_copy, caplog):
  damage_step(run_copy, LATEST_STEP, "emptied")
  cfg, state = _fresh_state(run_copy)
  with caplog.at_level(logging.WARNING):
    manager, state = checkpoints.resume(run_copy, cfg.checkpoint, state)
  assert int(state.step) == BEST_STEP
  assert any(f"step {LATEST_STEP} is damaged" in r.getMessage() for r in caplog.records)
  assert os.path.isdir(os.path.join(run_copy, checkpoints.DAMAGED_DIR, str(LATEST_STEP)))
  # Training reaches the damaged step again: it saves over it.
  assert checkpoints.save(manager, state.replace(step=np.int32(LATEST_STEP)), {"sad": 0.5},
                          force=True)
  assert manager.all_steps() == [BEST_STEP, LATEST_STEP]
  manager.close()
  assert checkpoints.restore_params(run_copy, "latest")[2] == LATEST_STEP


def test_only_process_0_moves_damaged_checkpoints(run_copy, monkeypatch):
  damage_step(run_copy, LATEST_STEP, "emptied")
  cfg, state = _fresh_state(run_copy)
  import jax
  synced = []
  monkeypatch.setattr(jax, "process_index", lambda: 1)
  monkeypatch.setattr(jax, "process_count", lambda: 2)
  from jax.experimental import multihost_utils
  monkeypatch.setattr(multihost_utils, "sync_global_devices", synced.append)
  _, state = checkpoints.resume(run_copy, cfg.checkpoint, state)
  assert int(state.step) == BEST_STEP  # It waited for process 0 and
  assert "matting: damaged checkpoints moved aside" in synced
  assert not os.path.exists(os.path.join(run_copy, checkpoints.DAMAGED_DIR))  # moved nothing


def test_training_without_intact_checkpoint_is_one_error(run_copy):
  damage_step(run_copy, BEST_STEP, "data_deleted")
  damage_step(run_copy, LATEST_STEP, "metadata_deleted")
  cfg, state = _fresh_state(run_copy)
  with pytest.raises(MattingInputError, match="no intact checkpoint to resume from"):
    checkpoints.resume(run_copy, cfg.checkpoint, state)


# --- Weights files ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def weights_arrays(pristine_run, tmp_path_factory):
  path = tmp_path_factory.mktemp("weights") / "tiny.npz"
  checkpoints.export_weights(pristine_run, path)
  with np.load(path) as data:
    return {key: data[key] for key in data.files}


def _drop_leaf(a):
  del a["params/remap_1/bias"]


def _reshape_kernel(a):
  a["params/structure/kernel"] = np.zeros((7, 7, 5, 8), np.float32)


def _bad_json(a):
  a["config.json"] = np.array("{not json")


def _empty_json(a):
  a["config.json"] = np.array("")


def _nan_weight(a):
  a["params/remap_1/kernel"] = a["params/remap_1/kernel"].copy()
  a["params/remap_1/kernel"].flat[0] = np.nan


def _float64(a):
  a["params/remap_1/bias"] = a["params/remap_1/bias"].astype(np.float64)


@pytest.mark.parametrize("damage, what", [
    (_drop_leaf, "missing parameter params/remap_1/bias"),
    (_reshape_kernel, "params/structure/kernel has shape (7, 7, 5, 8)"),
    (_bad_json, "config.json is not valid JSON"),
    (_empty_json, "config.json is empty"),
    (_nan_weight, "params/remap_1/kernel contains NaN"),
    (_float64, "params/remap_1/bias has dtype float64"),
])
def test_damaged_weights_file_is_one_line(weights_arrays, tmp_path, damage, what):
  arrays = dict(weights_arrays)
  damage(arrays)
  path = tmp_path / "w.npz"
  np.savez(path, **arrays)
  with pytest.raises(MattingInputError) as error:
    weights.load_params(path)
  message = str(error.value)
  assert message.startswith(f"not a matting weights file: {path}: ") and what in message
  assert "\n" not in message


def test_cli_predict_with_damaged_weights_exits_2(weights_arrays, example_files, tmp_path,
                                                  capsys):
  arrays = dict(weights_arrays)
  _nan_weight(arrays)
  np.savez(tmp_path / "w.npz", **arrays)
  out = tmp_path / "a.png"
  assert cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
                   "--checkpoint", str(tmp_path / "w.npz"), "-o", str(out)]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "not a matting weights file" in err[0]
  assert not out.exists()


# --- Config values ------------------------------------------------------------------------

def _train_cfg():
  from experiments.common import train_config
  return train_config("smoke")


@pytest.mark.parametrize("field, value", [
    ("train.steps", 0), ("train.steps", -1), ("train.batch_size", 0),
    ("checkpoint.every_steps", 0), ("train.lr", float("nan")), ("train.lr", 0.0),
    ("train.lr", float("inf")), ("train.momentum", 1.0), ("train.log_every", 0),
    ("train.warmup_steps", -1), ("train.warmup_steps", 60), ("train.grad_weight", -0.5),
    ("train.grad_weight", float("nan")), ("checkpoint.keep_last", 0),
    ("checkpoint.best_metric", "mse"),
    ("patches.num_patches", 0), ("patches.stride", 0), ("patches.hard_weight", -1.0),
    ("patches.hard_weight", float("nan")), ("patches.hard_error", "max"),
    ("augment.flip_prob", 1.5),
    ("augment.scale_range", (1.2, 0.8)), ("model.first_width", 0),
    ("model.remap_widths", (64, 0, 64, 32)), ("data.synthetic.num", 0),
    ("data.synthetic.height", 8)])
def test_check_config_names_the_field(field, value):
  cfg = _train_cfg()
  section, name = field.rsplit(".", 1)
  node = cfg
  for part in section.split("."):
    node = node[part]
  with node.ignore_type():
    node[name] = value
  with pytest.raises(MattingInputError) as error:
    config_checks.check_config(cfg)
  assert error.value.field == field


def test_hard_weight_without_classic_inputs_is_refused_before_any_work():
  cfg = _train_cfg()
  cfg.patches.hard_weight = 1.0
  config_checks.check_config(cfg)  # rgb_cf_knn has classic mattes.
  cfg.inputs.combination = "rgb_trimap"
  with pytest.raises(MattingInputError, match="rgb_trimap") as error:
    config_checks.check_config(cfg)
  assert error.value.field == "patches.hard_weight"


def test_trainable_must_be_layer_names():
  cfg = _train_cfg()
  cfg.train.trainable = ("gate",)
  config_checks.check_config(cfg)  # Names are checked against the network when it is built.
  with cfg.train.ignore_type():
    cfg.train.trainable = (1,)
  with pytest.raises(MattingInputError, match="layer names") as error:
    config_checks.check_config(cfg)
  assert error.value.field == "train.trainable"


def test_a_gate_over_channels_that_are_not_mattes_is_refused():
  cfg = _train_cfg()
  cfg.model.gated = True
  config_checks.check_config(cfg)  # rgb_cf_knn: every channel after RGB is a matte.
  for combination in ("rgb_trimap", "rgb_cf_knn_comp_depth"):
    cfg.inputs.combination = combination
    with pytest.raises(MattingInputError, match=combination.rsplit("_", 1)[-1]) as error:
      config_checks.check_config(cfg)
    assert error.value.field == "model.gated"


def test_evaluation_symmetries_must_be_a_count_of_the_squares_group():
  from experiments import evaluate
  cfg = evaluate.get_config("smoke")
  for good in (1, 2, 4, 8):
    cfg.symmetries = good
    config_checks.check_config(cfg)
  for bad in (3, 0, 16):
    cfg.symmetries = bad
    with pytest.raises(MattingInputError, match="1, 2, 4, 8") as error:
      config_checks.check_config(cfg)
    assert error.value.field == "symmetries"


def test_unknown_second_generator_kind_is_refused_naming_the_field():
  from experiments import pretrained_generalist
  cfg = pretrained_generalist.get_config("smoke")
  config_checks.check_config(cfg)  # () keeps the generator's mix.
  cfg.data.synthetic_v2_train.kinds = ("fur",)
  config_checks.check_config(cfg)
  cfg.data.synthetic_v2_train.kinds = ("fur", "hair")
  with pytest.raises(MattingInputError, match="hair") as error:
    config_checks.check_config(cfg)
  assert error.value.field == "data.synthetic_v2_train.kinds"


def test_check_config_accepts_every_shipped_experiment():
  import importlib

  from matting import runner
  for name in ("classic", "dcnn", "ablation_layers", "evaluate", "training_recipe"):
    module = importlib.import_module(f"experiments.{name}")
    for mode in ("smoke", "cpu", "paper"):
      cfg = module.get_config(mode)
      for overrides in module.sweep(mode):
        config_checks.check_config(runner.apply_overrides(cfg, overrides))


def test_training_checks_config_before_writing(tmp_path):
  from matting.training import loop
  cfg = _train_cfg()
  cfg.train.steps = 0
  with pytest.raises(MattingInputError, match="integer >= 1"):
    loop.train_and_evaluate(cfg, str(tmp_path / "run"), str(tmp_path / "cache"))
  assert os.listdir(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("flag, line", [
    ("--config.train.steps=0", "launch.py: error: --config.train.steps: must be an integer "
                               ">= 1, got 0"),
    ("--config.train.nope=3", "launch.py: error: --config.train.nope: no such config field "
                              "in experiments/dcnn.py"),
    ("--config.train.steps=abc", "launch.py: error: flag --config.train.steps=abc: invalid "
                                 "literal for int() with base 10: 'abc'"),
    ("--mode=huge", "launch.py: error: flag --mode=huge: value should be one of "
                    "<smoke|cpu|paper>"),
])
def test_launch_bad_flag_is_one_line_exit_2_nothing_written(tmp_path, flag, line):
  workdir = tmp_path / "run"
  result = run_launch("--experiment=dcnn", "--mode=smoke", f"--workdir={workdir}",
                      f"--config.cache_dir={tmp_path / 'cache'}", flag)
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip().splitlines() == [line]
  assert os.listdir(tmp_path) == []


def test_evaluate_names_a_run_path_that_is_missing_or_empty(tmp_path):
  """A mistyped --config.runs entry used to drop its rows from the report unnoticed."""
  from matting import runner
  (tmp_path / "empty").mkdir()
  with pytest.raises(MattingInputError, match="no such weights file") as error:
    runner.find_runs([str(tmp_path / "typo.npz")])
  assert error.value.field == "runs"
  with pytest.raises(MattingInputError, match="holds no training run"):
    runner.find_runs([str(tmp_path / "empty")])


@pytest.mark.slow
def test_launch_evaluate_with_a_missing_run_is_one_line_exit_2_nothing_written(tmp_path):
  missing = tmp_path / "no_such_run.npz"
  result = run_launch("--experiment=evaluate", "--mode=smoke", f"--workdir={tmp_path / 'eval'}",
                      f"--config.cache_dir={tmp_path / 'cache'}",
                      f"--config.runs=('{missing}',)")
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip().splitlines() == [
      f"launch.py: error: --config.runs: {missing}: no such weights file or work directory"]
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command", [["export", "RUN"], ["trimap", "MASK"]])
def test_export_and_trimap_check_the_output_name_first(command, tmp_path, capsys):
  import imageio.v3 as iio
  mask = tmp_path / "mask.png"
  iio.imwrite(mask, np.full((8, 8), 255, np.uint8))
  args = [str(tmp_path / "no_run") if a == "RUN" else str(mask) if a == "MASK" else a
          for a in command]
  assert cli.main(args + ["-o", str(tmp_path / "out.txt")]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("matting: error: --output ") and ".txt" in err[0]
  assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("value, kwargs, problem", [
    (0, dict(low=1, integer=True), "must be an integer >= 1, got 0"),
    (4, dict(low=1, high=3, integer=True), "must be an integer in [1, 3], got 4"),
    (5, dict(high=3, integer=True), "must be an integer <= 3, got 5"),
    (1.5, dict(low=1, integer=True), "must be an integer >= 1, got 1.5"),
    (0.0, dict(low=0, low_open=True), "must be a finite number > 0, got 0.0"),
    (1.0, dict(low=0, high=1, low_open=True, high_open=True),
     "must be a finite number > 0 and < 1, got 1.0"),
    (float("nan"), dict(), "must be a finite number, got nan"),
    (True, dict(low=0), "must be a finite number >= 0, got True"),
    ("3", dict(low=0), "must be a finite number >= 0, got '3'"),
    (np.int64(2), dict(low=1, integer=True), None),
    (np.float32(0.5), dict(low=0, high=1), None),
])
def test_out_of_range_says_what_is_wrong(value, kwargs, problem):
  from matting.errors import out_of_range
  assert out_of_range(value, **kwargs) == problem
