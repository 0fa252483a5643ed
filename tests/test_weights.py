"""Exported weights: exact round trip, same predictions as the checkpoint, CLI loading rules."""

import os

import jax
import numpy as np
import pytest

from experiments.common import train_config
from matting import cli, predict
from matting.data import io
from matting.errors import MattingInputError
from matting.inputs import stacks
from matting.models import architecture, weights
from matting.models.dcnn import make_model
from matting.training import checkpoints, optim, steps
from tests.conftest import two_colour_example

BEST_STEP, LATEST_STEP = 1, 2


def make_tiny_run(workdir):
  """A work directory with two checkpoints of a tiny DCNN: step 1 (best SAD) and step 2."""
  cfg = train_config("smoke")
  cfg.model.update(num_remap_layers=1, remap_widths=(8,), first_width=8)
  checkpoints.write_config(workdir, cfg)
  manager = checkpoints.make_manager(os.path.join(workdir, "checkpoints"), cfg.checkpoint)
  for seed, (step, sad) in enumerate([(BEST_STEP, 1.0), (LATEST_STEP, 2.0)]):
    state = steps.create_train_state(
        jax.random.key(seed), make_model(cfg.model), stacks.num_channels(cfg.inputs.combination),
        optim.make_optimizer(cfg.train), cfg.train.loss)
    state = state.replace(step=np.int32(step))
    checkpoints.save(manager, state, metrics={"sad": sad}, force=True)
  manager.close()
  return workdir


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  return str(make_tiny_run(tmp_path_factory.mktemp("run")))


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
  path = tmp_path_factory.mktemp("weights") / "tiny.npz"
  assert checkpoints.export_weights(tiny_run, path, "best", command="pytest") == BEST_STEP
  return str(path)


def assert_same_tree(a, b):
  flat_a, flat_b = weights.flatten_params(a), weights.flatten_params(b)
  assert sorted(flat_a) == sorted(flat_b)
  for key in flat_a:
    assert flat_a[key].dtype == flat_b[key].dtype, key
    np.testing.assert_array_equal(flat_a[key], flat_b[key], err_msg=key)


def test_flatten_unflatten_round_trip():
  tree = {"params": {"conv1": {"kernel": np.ones((2, 3))}, "conv2": {"bias": np.zeros(4)}}}
  flat = weights.flatten_params(tree)
  assert sorted(flat) == ["params/conv1/kernel", "params/conv2/bias"]
  assert_same_tree(weights.unflatten_params(flat), tree)


def test_export_round_trips_params_and_config(tiny_run, exported):
  params, cfg = weights.load_params(exported)
  ckpt_params, ckpt_cfg = checkpoints.restore_params(tiny_run, "best")[:2]
  assert_same_tree(params, ckpt_params)
  assert cfg.to_dict() == ckpt_cfg.to_dict()
  assert weights.read_provenance(exported) == {
      "run_dir": os.path.abspath(tiny_run), "step": BEST_STEP, "which": "best",
      "command": "pytest"}
  assert os.listdir(os.path.dirname(exported)) == ["tiny.npz"]  # No temporary left over.


def test_exported_weights_predict_like_the_checkpoint(tiny_run, exported):
  image, trimap, _ = two_colour_example(30, 36)
  params, cfg = weights.load_params(exported)
  alpha = predict.predict_image(params, cfg, image, trimap, keep_known=False)
  expected = predict.predict_image(*checkpoints.restore_params(tiny_run, "best")[:2], image, trimap,
                                   keep_known=False)
  np.testing.assert_array_equal(alpha, expected)
  assert alpha.shape == trimap.shape and np.all(np.isfinite(alpha))


@pytest.mark.parametrize("which, step", [("latest", LATEST_STEP), (BEST_STEP, BEST_STEP)])
def test_export_chooses_the_step(tiny_run, exported, tmp_path, which, step):
  path = tmp_path / "w.npz"
  assert checkpoints.export_weights(tiny_run, path, which) == step
  assert weights.read_provenance(path)["step"] == step
  params, _ = weights.load_params(path)
  flat = weights.flatten_params(params)
  best = weights.flatten_params(weights.load_params(exported)[0])
  same = all(np.array_equal(flat[k], best[k]) for k in best)
  assert same == (step == BEST_STEP)


def test_export_rejects_missing_step_and_non_run(tiny_run, tmp_path):
  with pytest.raises(MattingInputError, match="step 7"):
    checkpoints.export_weights(tiny_run, tmp_path / "w.npz", 7)
  with pytest.raises(MattingInputError, match="config.json"):
    checkpoints.export_weights(tmp_path, tmp_path / "w.npz")
  assert not (tmp_path / "w.npz").exists()


def test_load_params_rejects_other_files(tmp_path):
  np.savez(tmp_path / "plain.npz", kernel=np.ones(3))
  (tmp_path / "text.npz").write_text("not an archive")
  for name in ("plain.npz", "text.npz", "missing.npz"):
    with pytest.raises(MattingInputError, match=name):
      weights.load_params(tmp_path / name)


def test_default_weights_only_when_shipped(monkeypatch, exported, tmp_path):
  monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", str(tmp_path / "absent.npz"))
  assert weights.default_weights() is None
  monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", exported)
  assert weights.default_weights() == exported


def test_cli_export_then_predict_matches_run_dir(tiny_run, example_files, tmp_path):
  weights = tmp_path / "w.npz"
  assert cli.main(["export", tiny_run, "-o", str(weights)]) == 0
  outputs = {}
  for name, source in (("file", weights), ("run", tiny_run)):
    outputs[name] = tmp_path / f"{name}.npy"
    assert cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
                     "--checkpoint", str(source), "-o", str(outputs[name])]) == 0
  np.testing.assert_array_equal(np.load(outputs["file"]), np.load(outputs["run"]))


def test_cli_predict_uses_shipped_weights(monkeypatch, exported, tiny_run, example_files,
                                          tmp_path):
  monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", exported)
  out = tmp_path / "a.npy"
  assert cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
                   "-o", str(out)]) == 0
  image, trimap = io.read_image_and_trimap(example_files["image"], example_files["trimap"])
  expected = predict.predict_image(*checkpoints.restore_params(tiny_run)[:2], image, trimap)
  np.testing.assert_array_equal(np.load(out), expected)


def test_predict_with_a_knn_rgb_model(tmp_path):
  """A model taking the RGB KNN matte gets it from predict_image, at the KNN working
  resolution (knn_max_pixels) like the HSV one."""
  from matting.classic import closed_form, knn
  from matting.models import inference
  from tests.conftest import two_colour_example
  from tests.tiny_model import write_tiny_weights
  params, cfg = predict.load_model(write_tiny_weights(tmp_path / "w.npz", 0, "rgb_cf_knnrgb"))
  image, trimap, _ = two_colour_example()
  mattes = {"cf": closed_form.closed_form_alpha(image, trimap),
            "knn_rgb": knn.knn_rgb_alpha(image, trimap)}
  expected = inference.run_network(params, cfg.model,
                                   stacks.input_stack(image, trimap, mattes, "rgb_cf_knnrgb"),
                                   keep_known=trimap, engine="numpy")
  np.testing.assert_array_equal(predict.predict_image(params, cfg, image, trimap), expected)
  capped = predict.predict_image(params, cfg, image, trimap, knn_max_pixels=300)
  assert not np.array_equal(capped, expected)


@pytest.mark.parametrize("method", ["knn", "cf"])
def test_cli_working_resolution_flags(method, monkeypatch, exported, example_files, tmp_path,
                                      capsys):
  """--knn-max-pixels / --cf-max-pixels N solve that input at <= N pixels; 0 is full
  resolution; a negative value is a one-line error naming the flag, with no output."""
  monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", exported)
  image, trimap = io.read_image_and_trimap(example_files["image"], example_files["trimap"])
  model = predict.load_model(exported)
  flag = f"--{method}-max-pixels"
  for value, cap in (("0", None), ("200", 200)):
    out = tmp_path / f"a{value}.npy"
    assert cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
                     "-o", str(out), flag, value]) == 0
    expected = predict.predict_image(*model, image, trimap, **{f"{method}_max_pixels": cap})
    np.testing.assert_array_equal(np.load(out), expected)
  assert not np.array_equal(np.load(tmp_path / "a0.npy"), np.load(tmp_path / "a200.npy"))
  with pytest.raises(SystemExit) as error:
    cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
              "-o", str(tmp_path / "b.npy"), flag, "-3"])
  assert error.value.code == 2 and flag in capsys.readouterr().err
  assert not (tmp_path / "b.npy").exists()


def test_cli_symmetries_flag(monkeypatch, exported, example_files, tmp_path, capsys):
  """--symmetries N averages the network over N symmetries of the input (predict_image's
  `symmetries`); a count outside 1, 2, 4, 8 is a one-line error naming the flag, no output."""
  monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", exported)
  image, trimap = io.read_image_and_trimap(example_files["image"], example_files["trimap"])
  model = predict.load_model(exported)
  for count in ("1", "8"):
    out = tmp_path / f"a{count}.npy"
    assert cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
                     "-o", str(out), "--symmetries", count]) == 0
    expected = predict.predict_image(*model, image, trimap, symmetries=int(count))
    np.testing.assert_array_equal(np.load(out), expected)
  assert not np.array_equal(np.load(tmp_path / "a1.npy"), np.load(tmp_path / "a8.npy"))
  with pytest.raises(SystemExit) as error:
    cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
              "-o", str(tmp_path / "b.npy"), "--symmetries", "3"])
  assert error.value.code == 2 and "--symmetries" in capsys.readouterr().err
  assert not (tmp_path / "b.npy").exists()


def test_cli_predict_without_weights_exits_2(monkeypatch, example_files, tmp_path, capsys):
  monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", str(tmp_path / "absent.npz"))
  out = tmp_path / "a.png"
  assert cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
                   "-o", str(out)]) == cli.EXIT_BAD_INPUT
  assert "--checkpoint" in capsys.readouterr().err
  assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--checkpoint", "{exported}", "--step", "latest"], "--step"),
    (["--checkpoint", "{missing}"], "--checkpoint"),
])
def test_cli_predict_bad_checkpoint_exits_2(exported, example_files, tmp_path, capsys, args,
                                            message):
  args = [a.format(exported=exported, missing=tmp_path / "missing.npz") for a in args]
  out = tmp_path / "a.png"
  assert cli.main(["predict", str(example_files["image"]), str(example_files["trimap"]),
                   *args, "-o", str(out)]) == cli.EXIT_BAD_INPUT
  assert message in capsys.readouterr().err
  assert not out.exists()


def test_cli_export_of_non_run_exits_2(tmp_path, capsys):
  out = tmp_path / "w.npz"
  assert cli.main(["export", str(tmp_path), "-o", str(out)]) == cli.EXIT_BAD_INPUT
  assert "config.json" in capsys.readouterr().err
  assert not out.exists()


@pytest.mark.parametrize("sub, flag", [("export", "--step"), ("predict", "--checkpoint")])
def test_cli_help(capsys, sub, flag):
  with pytest.raises(SystemExit) as exit_info:
    cli.main([sub, "--help"])
  assert exit_info.value.code == 0 and flag in capsys.readouterr().out


def test_init_from_weights_or_run_and_its_errors(tiny_run, exported, tmp_path):
  """train.init_from: a fine-tuned run starts from the file's (or run's best) parameters."""
  from matting.training import config_checks
  cfg = train_config("smoke")
  cfg.model.update(num_remap_layers=1, remap_widths=(8,), first_width=8)
  fresh = steps.create_train_state(
      jax.random.key(7), make_model(cfg.model), stacks.num_channels(cfg.inputs.combination),
      optim.make_optimizer(cfg.train), cfg.train.loss).params
  expected, _ = weights.load_params(exported)
  assert_same_tree(checkpoints.initial_params(exported, fresh), expected)
  assert_same_tree(checkpoints.initial_params(tiny_run, fresh), expected)  # Best = step 1.
  other = train_config("smoke")  # The standard 4-layer network: other shapes.
  standard = steps.create_train_state(
      jax.random.key(0), make_model(other.model), stacks.num_channels(other.inputs.combination),
      optim.make_optimizer(other.train), other.train.loss).params
  with pytest.raises(MattingInputError, match="do not fit") as error:
    checkpoints.initial_params(exported, standard)
  assert error.value.field == "train.init_from"
  cfg.train.init_from = str(tmp_path / "missing.npz")
  with pytest.raises(MattingInputError, match="missing.npz") as error:
    config_checks.check_config(cfg)
  assert error.value.field == "train.init_from"


def test_init_from_a_network_with_fewer_input_channels(exported):
  """A run with an added input (rgb_cf_knn -> rgb_cf_knn_comp) starts from the source
  network's function: same alpha whatever the new channel holds; a dropped channel is an
  error naming train.init_from."""
  cfg = train_config("smoke")
  cfg.model.update(num_remap_layers=1, remap_widths=(8,), first_width=8)
  assert cfg.inputs.combination == "rgb_cf_knn"
  model = make_model(cfg.model)

  def fresh(combination):
    return steps.create_train_state(
        jax.random.key(3), model, stacks.num_channels(combination),
        optim.make_optimizer(cfg.train), cfg.train.loss).params

  source, _ = weights.load_params(exported)
  wider = checkpoints.initial_params(exported, fresh("rgb_cf_knn_comp"), "rgb_cf_knn_comp")
  stack = np.random.default_rng(0).random((1, 20, 20, 6), dtype=np.float32)
  want = model.apply(source, stack[..., :5])
  for comp in (stack[..., 5:], 1.0 - stack[..., 5:]):
    got = model.apply(wider, np.concatenate([stack[..., :5], comp], axis=-1))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
  kernel = weights.flatten_params(wider)[architecture.FIRST_KERNEL]
  assert kernel.shape[2] == 6 and not kernel[:, :, 5].any()
  with pytest.raises(MattingInputError, match="knn") as error:
    checkpoints.initial_params(exported, fresh("rgb_cf_comp"), "rgb_cf_comp")
  assert error.value.field == "train.init_from"


def tiny_network(combination, first_width=8, seed=3):
  """(model, fresh parameters) of the one-remap-layer test network for `combination`."""
  cfg = train_config("smoke")
  cfg.model.update(num_remap_layers=1, remap_widths=(8,), first_width=first_width)
  model = make_model(cfg.model)
  return model, steps.create_train_state(
      jax.random.key(seed), model, stacks.num_channels(combination),
      optim.make_optimizer(cfg.train), cfg.train.loss).params


def test_init_from_a_knn_network_into_a_knn_rgb_one(exported):
  """rgb_cf_knn -> rgb_cf_knnrgb_comp: the knn channel's weights start the knn_rgb channel
  (its stand-in), the new comp channel starts at zero, so the run starts from the source's
  function with the RGB KNN matte in the KNN matte's place."""
  model, fresh = tiny_network("rgb_cf_knnrgb_comp")
  source, _ = weights.load_params(exported)
  started = checkpoints.initial_params(exported, fresh, "rgb_cf_knnrgb_comp")
  kernel = weights.flatten_params(started)[architecture.FIRST_KERNEL]
  np.testing.assert_array_equal(kernel[:, :, :5],
                                weights.flatten_params(source)[architecture.FIRST_KERNEL])
  assert not kernel[:, :, 5].any()
  stack = np.random.default_rng(2).random((1, 20, 20, 6), dtype=np.float32)
  np.testing.assert_allclose(model.apply(started, stack), model.apply(source, stack[..., :5]),
                             rtol=1e-6, atol=1e-6)


def test_init_from_a_network_with_a_narrower_first_layer(exported):
  """A run with more first-layer filters (and channels) than the source starts from the
  source network's function, and its new filters are trained: the second layer's weights
  from them start at zero, their own weights at the fresh values."""
  cfg = train_config("smoke")
  cfg.model.update(num_remap_layers=1, remap_widths=(8,), first_width=8)
  source, _ = weights.load_params(exported)
  wide_model, fresh = tiny_network("rgb_cf_knn_comp", first_width=12, seed=5)
  wide = checkpoints.initial_params(exported, fresh, "rgb_cf_knn_comp")
  stack = np.random.default_rng(1).random((1, 20, 20, 6), dtype=np.float32)
  want = make_model(cfg.model).apply(source, stack[..., :5])
  np.testing.assert_allclose(wide_model.apply(wide, stack), want, rtol=1e-6, atol=1e-6)
  flat, fresh_flat = weights.flatten_params(wide), weights.flatten_params(fresh)
  first = flat[architecture.FIRST_KERNEL]
  np.testing.assert_array_equal(first[..., 8:], fresh_flat[architecture.FIRST_KERNEL][..., 8:])
  assert first[..., 8:].any() and not flat["params/remap_1/kernel"][:, :, 8:].any()
  np.testing.assert_array_equal(flat["params/remap_1/kernel"][:, :, :8],
                                weights.flatten_params(source)["params/remap_1/kernel"])
  _, narrow = tiny_network("rgb_cf_knn", first_width=4, seed=5)
  with pytest.raises(MattingInputError, match="do not fit") as error:
    checkpoints.initial_params(exported, narrow)
  assert error.value.field == "train.init_from"


def test_cli_predict_with_the_numpy_engine_never_imports_jax(exported, example_files, tmp_path):
  """`matting predict` (default engine numpy) on a weights file runs without loading JAX,
  and gives the JAX engine's alpha within float32 rounding."""
  import subprocess
  import sys
  out = tmp_path / "a.npy"
  code = ("import sys; from matting import cli; "
          f"assert cli.main(['predict', {str(example_files['image'])!r}, "
          f"{str(example_files['trimap'])!r}, '--checkpoint', {exported!r}, "
          f"'-o', {str(out)!r}]) == 0; "
          "assert 'jax' not in sys.modules and 'flax' not in sys.modules, 'JAX was imported'")
  subprocess.run([sys.executable, "-c", code], check=True)
  image, trimap = io.read_image_and_trimap(example_files["image"], example_files["trimap"])
  model = predict.load_model(exported)
  np.testing.assert_allclose(np.load(out), predict.predict_image(*model, image, trimap,
                                                                 engine="jax"), atol=1e-5)


def test_init_from_an_ungated_network_into_a_gated_one(exported, tmp_path):
  """A gated run from an ungated source starts from the source's features with a constant
  gate: its output is GATE_START_WEIGHT times the source's alpha plus an equal share of each
  input matte; its exported weights load back and predict the same with either engine."""
  from matting.models import inference
  cfg = train_config("smoke")
  cfg.model.update(num_remap_layers=1, remap_widths=(8,), first_width=8, gated=True)
  model = make_model(cfg.model)
  fresh = steps.create_train_state(jax.random.key(3), model, 6, optim.make_optimizer(cfg.train),
                                   cfg.train.loss).params
  source, source_cfg = weights.load_params(exported)
  started = checkpoints.initial_params(exported, fresh, "rgb_cf_knn_comp")
  stack = np.random.default_rng(4).random((1, 20, 20, 6), dtype=np.float32)
  alpha = np.asarray(make_model(source_cfg.model).apply(source, stack[..., :5]))
  share = (1.0 - checkpoints.GATE_START_WEIGHT) / 3
  want = checkpoints.GATE_START_WEIGHT * alpha + share * stack[:, 6:-6, 6:-6, 3:].sum(
      axis=-1, keepdims=True)
  np.testing.assert_allclose(model.apply(started, stack), want, rtol=1e-5, atol=1e-6)
  cfg.inputs.combination = "rgb_cf_knn_comp"
  path = str(tmp_path / "gated.npz")
  weights.save_weights(path, started, cfg)
  loaded, loaded_cfg = weights.load_params(path)
  assert loaded_cfg.model.gated
  engines = [inference.run_network(loaded, loaded_cfg.model, stack[0], engine=engine)
             for engine in ("numpy", "jax")]
  np.testing.assert_allclose(engines[0], engines[1], rtol=1e-5, atol=1e-6)
  with pytest.raises(MattingInputError, match="do not fit"):  # Gated source, ungated run.
    checkpoints.initial_params(path, tiny_network("rgb_cf_knn_comp")[1], "rgb_cf_knn_comp")
