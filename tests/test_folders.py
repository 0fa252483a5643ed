"""Folder mode of `matting predict` / `cutout`: pairing by stem, resume, bad files, exit codes."""

import os

import imageio.v3 as iio
import numpy as np
import pytest

from matting import cli, predict
from tests.conftest import two_colour_example
from tests.tiny_model import write_tiny_weights


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  return write_tiny_weights(tmp_path_factory.mktemp("weights") / "tiny.npz")


def _u8(array):
  return np.round(array * 255).astype(np.uint8)


def make_folders(root, stems=("a", "b", "c")):
  images, trimaps = root / "images", root / "trimaps"
  images.mkdir()
  trimaps.mkdir()
  for seed, stem in enumerate(stems):
    image, trimap, _ = two_colour_example(seed=seed)
    iio.imwrite(images / f"{stem}.png", _u8(image))
    iio.imwrite(trimaps / f"{stem}.png", _u8(trimap))
  return images, trimaps


def run(capsys, *args):
  status = cli.main([str(a) for a in args])
  return status, capsys.readouterr().err


def test_one_bad_file_is_reported_and_a_rerun_resumes(tmp_path, tiny, capsys, monkeypatch):
  images, trimaps = make_folders(tmp_path)
  (images / "c.png").write_bytes(b"not a png")
  out = tmp_path / "out"
  loads = []
  load_model = predict.load_model
  monkeypatch.setattr(predict, "load_model", lambda *a: loads.append(a) or load_model(*a))

  status, err = run(capsys, "predict", images, trimaps, "-o", out, "--checkpoint", tiny)
  assert status == 1
  assert f"matting: error: {images / 'c.png'}: cannot decode image" in err
  assert "[predict]" in err and "3/3" in err  # The progress bar reached its end.
  assert "2 written, 0 skipped, 1 failed" in err
  assert sorted(os.listdir(out)) == ["a.png", "b.png"]  # No partial output for c.
  assert len(loads) == 1  # The model loads once for the whole folder.
  alpha = iio.imread(out / "a.png")
  assert alpha.shape == (40, 50) and alpha.dtype == np.uint8
  mtimes = {name: os.stat(out / name).st_mtime_ns for name in ("a.png", "b.png")}

  image, _, _ = two_colour_example(seed=2)
  iio.imwrite(images / "c.png", _u8(image))
  status, err = run(capsys, "predict", images, trimaps, "-o", out, "--checkpoint", tiny)
  assert status == 0
  assert "2 of 3 outputs exist" in err and "1 written, 2 skipped, 0 failed" in err
  assert {name: os.stat(out / name).st_mtime_ns for name in mtimes} == mtimes

  status, err = run(capsys, "predict", images, trimaps, "-o", out, "--checkpoint", tiny,
                    "--overwrite")
  assert status == 0 and "3 written, 0 skipped" in err


def test_an_image_without_trimap_fails_by_name(tmp_path, tiny, capsys):
  images, trimaps = make_folders(tmp_path, ("a", "b"))
  (trimaps / "b.png").unlink()
  status, err = run(capsys, "predict", images, trimaps, "-o", tmp_path / "out",
                    "--checkpoint", tiny)
  assert status == 1
  assert f"{images / 'b.png'}: no trimap with this name in {trimaps}" in err
  assert os.listdir(tmp_path / "out") == ["a.png"]


def test_cutout_folder_writes_rgba_or_rgb_on_a_colour(tmp_path, tiny, capsys):
  images, trimaps = make_folders(tmp_path, ("a", "b"))
  status, _ = run(capsys, "cutout", images, trimaps, "-o", tmp_path / "rgba", "--checkpoint", tiny)
  assert status == 0 and iio.imread(tmp_path / "rgba" / "b.png").shape == (40, 50, 4)
  status, _ = run(capsys, "cutout", images, trimaps, "-o", tmp_path / "rgb", "--checkpoint", tiny,
                  "--background", "white")
  assert status == 0 and iio.imread(tmp_path / "rgb" / "a.png").shape == (40, 50, 3)


def test_usage_errors_exit_2_before_any_work(tmp_path, capsys):
  images, trimaps = make_folders(tmp_path, ("a",))
  empty = tmp_path / "empty"
  empty.mkdir()
  status, err = run(capsys, "predict", empty, trimaps, "-o", tmp_path / "out")
  assert status == 2 and f"{empty}: no .png or .jpg images found" in err
  status, err = run(capsys, "predict", images, trimaps / "a.png", "-o", tmp_path / "out")
  assert status == 2 and "is a directory but" in err
  (tmp_path / "file.png").write_bytes(b"")
  status, err = run(capsys, "cutout", images, trimaps, "-o", tmp_path / "file.png")
  assert status == 2 and "--output" in err and "directory" in err
  status, err = run(capsys, "cutout", images, trimaps, "-o", tmp_path / "out",
                    "--background", "not-a-colour")
  assert status == 2 and "--background" in err
  assert not (tmp_path / "out").exists()
