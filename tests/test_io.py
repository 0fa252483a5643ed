"""Tests for matting.io and matting.trimap: formats accepted, clear errors, atomic writes."""

import os
import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest

from matting.data import io
from matting.data.trimap import check_trimap, quantize_trimap, trimap_masks
from matting.errors import MattingInputError


def _write_png16(path, array):
  """Hand-encodes a 16-bit PNG (Pillow cannot write 16-bit RGB)."""
  h, w, c = array.shape
  raw = b"".join(b"\x00" + array[i].astype(">u2").tobytes() for i in range(h))

  def chunk(tag, data):
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

  colour_type = {1: 0, 3: 2, 4: 6}[c]
  header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
  with open(path, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_read_image_8bit_rgb(tmp_path):
  pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3) * 3
  iio.imwrite(tmp_path / "a.png", pixels)
  image = io.read_image(tmp_path / "a.png")
  assert image.dtype == np.float32 and image.shape == (4, 5, 3)
  np.testing.assert_allclose(image, pixels / 255.0, atol=1e-7)


def test_read_image_16bit_grey_is_repeated_to_rgb(tmp_path):
  pixels = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
  iio.imwrite(tmp_path / "g16.png", pixels)
  image = io.read_image(tmp_path / "g16.png")
  assert image.shape == (2, 2, 3)
  np.testing.assert_allclose(image[..., 1], pixels / 65535.0, atol=1e-7)
  np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_read_image_16bit_rgb(tmp_path):
  pixels = (np.random.default_rng(0).random((3, 4, 3)) * 65535).astype(np.uint16)
  _write_png16(tmp_path / "c16.png", pixels)
  image = io.read_image(tmp_path / "c16.png")
  assert image.shape == (3, 4, 3)
  # Full 16-bit precision (pypng; Pillow alone would give 8 bits).
  np.testing.assert_allclose(image, pixels / 65535.0, atol=1e-7)


def test_read_image_rgba_drops_alpha_with_warning(tmp_path):
  pixels = np.zeros((3, 3, 4), np.uint8)
  pixels[..., 0] = 200
  pixels[..., 3] = 17
  iio.imwrite(tmp_path / "rgba.png", pixels)
  with pytest.warns(UserWarning, match="rgba.png"):
    image = io.read_image(tmp_path / "rgba.png")
  assert image.shape == (3, 3, 3)
  np.testing.assert_allclose(image[..., 0], 200 / 255.0, atol=1e-7)


def test_read_trimap_quantizes_and_handles_lemur_convention(tmp_path):
  grey = np.array([[0, 102, 128, 255], [10, 240, 230, 26]], np.uint8)
  iio.imwrite(tmp_path / "t.png", np.stack([grey] * 3, axis=-1))
  trimap = io.read_trimap(tmp_path / "t.png")
  np.testing.assert_array_equal(trimap, [[0, 0.5, 0.5, 1], [0, 1, 1, 0.5]])
  fg, bg, unknown = trimap_masks(trimap)
  assert fg.sum() == 3 and bg.sum() == 2 and unknown.sum() == 3


def test_quantize_trimap_thresholds():
  np.testing.assert_array_equal(quantize_trimap(np.array([0.1, 0.1001, 0.8999, 0.9])),
                                [0.0, 0.5, 0.5, 1.0])


@pytest.mark.parametrize("reader", [io.read_image, io.read_trimap, io.read_alpha])
def test_missing_file_error_names_it(tmp_path, reader):
  with pytest.raises(MattingInputError, match="nope.png: no such file"):
    reader(tmp_path / "nope.png")


def test_undecodable_file_error_names_it(tmp_path):
  (tmp_path / "bad.png").write_text("not a png")
  with pytest.raises(MattingInputError, match="bad.png: cannot decode") as error:
    io.read_image(tmp_path / "bad.png")
  assert "\n" not in str(error.value)  # One line for the CLI's stderr.


def test_directory_is_rejected(tmp_path):
  with pytest.raises(MattingInputError, match="is a directory"):
    io.read_image(tmp_path)


def test_nan_image_rejected(tmp_path):
  image = np.full((4, 4, 3), 0.5, np.float32)
  image[1, 2, 0] = np.nan
  np.save(tmp_path / "nan.npy", image)
  with pytest.raises(MattingInputError, match="nan.npy: contains NaN"):
    io.read_image(tmp_path / "nan.npy")


def test_float_out_of_range_rejected(tmp_path):
  np.save(tmp_path / "big.npy", np.full((4, 4, 3), 2.0, np.float32))
  with pytest.raises(MattingInputError, match="big.npy: float values must lie in"):
    io.read_image(tmp_path / "big.npy")


def test_float_npy_image_accepted(tmp_path):
  image = np.random.default_rng(1).random((5, 6, 3)).astype(np.float32)
  np.save(tmp_path / "ok.npy", image)
  np.testing.assert_array_equal(io.read_image(tmp_path / "ok.npy"), image)


@pytest.mark.parametrize("value, message", [(0, "no foreground"), (255, "no background")])
def test_trimap_without_fg_or_bg_rejected(tmp_path, value, message):
  trimap = np.full((6, 6), 128, np.uint8)
  trimap[:2] = value
  iio.imwrite(tmp_path / "t.png", trimap)
  with pytest.raises(MattingInputError, match=f"t.png: trimap has {message}"):
    io.read_trimap(tmp_path / "t.png")


def test_check_trimap_rejects_nan():
  trimap = np.array([[0.0, 1.0], [np.nan, 0.5]])
  with pytest.raises(MattingInputError, match="NaN"):
    check_trimap(trimap, "t")


def test_size_mismatch_names_both_files(tmp_path):
  iio.imwrite(tmp_path / "img.png", np.zeros((6, 7, 3), np.uint8))
  trimap = np.zeros((6, 6), np.uint8)
  trimap[0] = 255
  iio.imwrite(tmp_path / "tri.png", trimap)
  with pytest.raises(MattingInputError, match=r"tri.png: size \(6, 6\) does not match .*img.png"):
    io.read_image_and_trimap(tmp_path / "img.png", tmp_path / "tri.png")


@pytest.mark.parametrize("bits, dtype", [(8, np.uint8), (16, np.uint16)])
def test_write_alpha_round_trip(tmp_path, bits, dtype):
  alpha = np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6)
  io.write_alpha(tmp_path / "a.png", alpha, bits=bits)
  raw = iio.imread(tmp_path / "a.png")
  assert raw.dtype == dtype
  np.testing.assert_allclose(io.read_alpha(tmp_path / "a.png"), alpha,
                             atol=0.5 / np.iinfo(dtype).max + 1e-7)
  assert os.listdir(tmp_path) == ["a.png"]


def test_write_alpha_refuses_nan_and_leaves_nothing(tmp_path):
  alpha = np.zeros((3, 3), np.float32)
  alpha[0, 0] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    io.write_alpha(tmp_path / "a.png", alpha)
  assert os.listdir(tmp_path) == []


def test_atomic_path_failure_leaves_no_file_and_keeps_old(tmp_path):
  target = tmp_path / "out.png"
  target.write_bytes(b"old")
  with pytest.raises(RuntimeError):
    with io.atomic_path(target) as tmp:
      with open(tmp, "wb") as f:
        f.write(b"half")
      raise RuntimeError("killed mid-write")
  assert target.read_bytes() == b"old"
  assert os.listdir(tmp_path) == ["out.png"]


def test_write_rgb_keeps_rgba(tmp_path):
  rgba = np.random.default_rng(2).random((4, 5, 4)).astype(np.float32)
  io.write_rgb(tmp_path / "c.png", rgba)
  raw = iio.imread(tmp_path / "c.png")
  assert raw.shape == (4, 5, 4)
  np.testing.assert_allclose(raw / 255.0, rgba, atol=0.5 / 255 + 1e-7)


def test_atomic_outputs_get_the_usual_file_mode(tmp_path):
  umask = os.umask(0o022)
  try:
    io.write_alpha(tmp_path / "a.png", np.zeros((2, 2), np.float32))
  finally:
    os.umask(umask)
  assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644
