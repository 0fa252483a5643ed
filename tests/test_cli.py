"""End-to-end tests of the `matting` command: outputs, JSON scores, exit status 2 on bad input."""

import json
import os
import shutil
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from matting import classic, cli
from matting.data import io
from tests.helpers import run_cli


@pytest.mark.parametrize("method", ["cf", "knn"])
def test_classic_writes_the_solvers_matte(example_files, tmp_path, method):
  out = tmp_path / "alpha.png"
  assert cli.main(["classic", str(example_files["image"]), str(example_files["trimap"]),
                   "--method", method, "-o", str(out)]) == 0
  image, trimap = io.read_image_and_trimap(example_files["image"], example_files["trimap"])
  expected = classic.classic_alpha(method, image, trimap)
  written = io.read_alpha(out)
  np.testing.assert_allclose(written, expected, atol=0.5 / 255 + 1e-6)
  # And it is a real matte: far better on unknown pixels than the constant 0.5 guess.
  gt = io.read_alpha(example_files["gt"])
  unknown = trimap == 0.5
  assert np.abs(written - gt)[unknown].mean() < 0.5 * np.abs(0.5 - gt)[unknown].mean()


def test_classic_16bit_by_name(example_files, tmp_path):
  out = tmp_path / "alpha16.png"
  assert cli.main(["classic", str(example_files["image"]), str(example_files["trimap"]),
                   "-o", str(out)]) == 0
  assert iio.imread(out).dtype == np.uint16


def test_score_json(example_files, capsys):
  assert cli.main(["score", str(example_files["gt"]), str(example_files["gt"]),
                   str(example_files["trimap"]), "--json"]) == 0
  scores = json.loads(capsys.readouterr().out)
  assert set(scores) == {"sad", "mse", "grad", "conn"}
  assert all(v == 0.0 for v in scores.values())


def test_score_text_detects_error(example_files, tmp_path, capsys):
  wrong = tmp_path / "wrong.png"
  iio.imwrite(wrong, np.full(io.read_alpha(example_files["gt"]).shape, 128, np.uint8))
  assert cli.main(["score", str(wrong), str(example_files["gt"]),
                   str(example_files["trimap"])]) == 0
  lines = dict(line.split() for line in capsys.readouterr().out.splitlines())
  assert float(lines["sad"]) > 0 and float(lines["mse"]) > 0


def test_missing_image_exits_2_and_writes_nothing(example_files, tmp_path):
  out = tmp_path / "out.png"
  result = run_cli("classic", tmp_path / "missing.png", example_files["trimap"], "-o", out)
  assert result.returncode == 2
  assert "missing.png: no such file" in result.stderr
  assert not out.exists()


def test_size_mismatch_exits_2(example_files, tmp_path):
  small = tmp_path / "small.png"
  iio.imwrite(small, np.zeros((10, 10, 3), np.uint8))
  out = tmp_path / "out.png"
  result = run_cli("classic", small, example_files["trimap"], "-o", out)
  assert result.returncode == 2 and "does not match" in result.stderr
  assert not out.exists()


def test_trimap_without_background_exits_2(example_files, tmp_path):
  trimap = tmp_path / "fgonly.png"
  grey = np.full(io.read_alpha(example_files["gt"]).shape, 128, np.uint8)
  grey[:3] = 255
  iio.imwrite(trimap, grey)
  out = tmp_path / "out.png"
  result = run_cli("classic", example_files["image"], trimap, "-o", out)
  assert result.returncode == 2 and "fgonly.png: trimap has no background" in result.stderr
  assert sorted(os.listdir(tmp_path)) == ["fgonly.png", "gt.png", "image.png", "trimap.png"]


def test_score_size_mismatch_exits_2(example_files, tmp_path):
  small = tmp_path / "small.png"
  iio.imwrite(small, np.zeros((10, 10), np.uint8))
  result = run_cli("score", small, example_files["gt"], example_files["trimap"])
  assert result.returncode == 2 and "small.png" in result.stderr


def test_bad_flag_exits_2(example_files):
  result = run_cli("classic", example_files["image"], example_files["trimap"],
                   "--method", "magic", "-o", "x.png")
  assert result.returncode == 2 and "--method" in result.stderr


SUBCOMMANDS = sorted(next(a for a in cli.build_parser()._actions
                          if a.dest == "command").choices)


def test_subcommands_are_the_documented_ones():
  assert {"classic", "score", "predict", "cutout", "export"} <= set(SUBCOMMANDS)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help_on_every_subcommand(sub):
  result = run_cli(sub, "--help")
  assert result.returncode == 0 and "usage: matting " + sub in result.stdout


def test_classic_path_does_not_import_jax(example_files, tmp_path):
  code = ("import sys\nfrom matting import cli\n"
          f"assert cli.main(['classic', {str(example_files['image'])!r}, "
          f"{str(example_files['trimap'])!r}, '--method', 'knn', '-o', "
          f"{str(tmp_path / 'a.png')!r}]) == 0\n"
          f"assert cli.main(['score', {str(tmp_path / 'a.png')!r}, "
          f"{str(example_files['gt'])!r}, {str(example_files['trimap'])!r}]) == 0\n"
          "assert 'jax' not in sys.modules, 'jax was imported'\n")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
  assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("matting") is None, reason="console script not installed")
def test_console_script_installed():
  result = subprocess.run(["matting", "--help"], capture_output=True, text=True)
  assert result.returncode == 0 and "classic" in result.stdout
