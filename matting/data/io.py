"""Reading images, trimaps and mattes; writing outputs atomically.

Images come back as float32 RGB in [0,1] (H, W, 3); trimaps as float32 in {0, 0.5, 1}
(H, W); mattes as float32 in [0,1] (H, W). 8/16-bit, greyscale and RGBA files are accepted
(alpha is dropped with a warning); 16-bit RGB PNGs keep all 16 bits (pypng); `.npy` arrays
are accepted too, for float data. Every problem raises `MattingInputError` naming the file.
Writes go through `atomic_path` (fsync'ed temporary, then rename; see there for clean-up).
"""

import contextlib
import json
import os
import re
import tempfile
import time
import warnings

import numpy as np

from matting.data.trimap import check_trimap, quantize_trimap
from matting.errors import MattingInputError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_warned_png16 = False


def _is_16bit_colour_png(path):
  """True for a PNG whose header says 16 bits per sample and RGB(A) colour."""
  with open(path, "rb") as f:
    head = f.read(26)
  # Signature, IHDR length and tag, width, height, then bit depth and colour type bytes.
  return (len(head) == 26 and head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR"
          and head[24] == 16 and head[25] in (2, 6))


def _read_png16(path):
  """(H, W, 3|4) uint16 of a 16-bit RGB(A) PNG via pypng, which keeps all 16 bits.

  Pillow (imageio's default plugin) decodes 16-bit colour at 8 bits; without pypng this
  returns None after warning once per process, and the caller reads 8-bit precision.
  """
  global _warned_png16
  try:
    import png  # pypng: pure Python, a declared dependency.
  except ImportError:
    if not _warned_png16:
      _warned_png16 = True
      warnings.warn(f"{path}: 16-bit RGB PNGs are read at 8-bit precision (install pypng "
                    "for full precision)", stacklevel=4)
    return None
  width, height, rows, info = png.Reader(filename=path).asDirect()
  planes = info["planes"]
  array = np.vstack([np.asarray(row, np.uint16) for row in rows])
  return array.reshape(height, width, planes)


def image_header(path):
  """(height, width, channels, bytes per sample) from the file's header, without decoding;
  None where the header cannot be read (the decoder then reports the problem)."""
  try:
    if path.lower().endswith(".npy"):
      array = np.load(path, mmap_mode="r", allow_pickle=False)
      shape = array.shape + (1,) * (3 - array.ndim)
      return shape[0], shape[1], int(np.prod(shape[2:])), array.dtype.itemsize
    from PIL import Image
    with Image.open(path) as image:
      width, height = image.size
      bands = len(image.getbands())
      sample = 2 if image.mode.startswith("I;16") else 1
      return height, width, bands, 4 if image.mode in ("I", "F") else sample
  except Exception:  # noqa: BLE001 -- not an image PIL knows, or damaged: the decoder says.
    return None


def check_decoded_size(path):
  """Refuses, before decoding, an image whose decoded arrays would not fit in the memory
  available (the file's pixels, a float64 conversion and the float32 result)."""
  from matting.memory import require
  header = image_header(path)
  if header is None:
    return
  height, width, channels, sample = header
  require(height * width * channels * (sample + 8 + 4),
          f"{path}: decoding a {width}x{height} image ({height * width / 1e6:.0f} MP)",
          "downscale it or free memory")


def _read_array(path):
  path = os.fspath(path)
  if not os.path.exists(path):
    raise MattingInputError(f"{path}: no such file")
  if os.path.isdir(path):
    raise MattingInputError(f"{path}: is a directory, expected an image file")
  check_decoded_size(path)
  try:
    if path.lower().endswith(".npy"):
      return np.load(path, allow_pickle=False)
    if _is_16bit_colour_png(path):
      array = _read_png16(path)
      if array is not None:
        return array
    import imageio.v3 as iio  # Deferred: imageio's plugin discovery costs start-up time.
    return iio.imread(path)
  except Exception as e:  # imageio raises many types for undecodable files.
    # First line only: imageio appends plugin install hints that do not apply here.
    reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
    raise MattingInputError(f"{path}: cannot decode image ({type(e).__name__}: {reason})") from e


def _to_unit_float(array, path):
  """Scales integer arrays by their type's maximum; checks floats are finite and in [0,1]."""
  if array.dtype == bool:
    return array.astype(np.float32)
  if np.issubdtype(array.dtype, np.integer):
    return (array.astype(np.float64) / np.iinfo(array.dtype).max).astype(np.float32)
  if not np.issubdtype(array.dtype, np.floating):
    raise MattingInputError(f"{path}: unsupported pixel type {array.dtype}")
  array = array.astype(np.float32)
  if not np.all(np.isfinite(array)):
    raise MattingInputError(f"{path}: contains NaN or Inf values")
  if array.size and (array.min() < 0.0 or array.max() > 1.0):
    raise MattingInputError(f"{path}: float values must lie in [0,1], got "
                            f"[{array.min():g}, {array.max():g}]")
  return array


def _channels(array, path):
  """Returns an (H, W, C) view with C in {1, 3}; RGBA loses its alpha with a warning."""
  if array.ndim == 2:
    return array[..., None]
  if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
    raise MattingInputError(f"{path}: expected an (H, W), (H, W, 3) or (H, W, 4) image, "
                            f"got shape {array.shape}")
  if array.shape[2] in (2, 4):
    warnings.warn(f"{path}: dropping the alpha channel of a {array.shape[2]}-channel image",
                  stacklevel=3)
    array = array[..., :-1]
  return array


def _decode_bytes(data, name):
  """The pixel array of an encoded image (PNG, JPEG, ...) held in memory; `name` is for messages."""
  if not data:
    raise MattingInputError(f"{name}: empty file")
  try:
    import imageio.v3 as iio
    return iio.imread(bytes(data))
  except Exception as e:  # imageio raises many types for undecodable data.
    reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if "Could not find a backend" in reason:  # imageio's wording, naming a '<bytes>' path.
      raise MattingInputError(f"{name}: cannot decode image (not an image format imageio "
                              "reads, e.g. PNG or JPEG)") from e
    raise MattingInputError(f"{name}: cannot decode image ({type(e).__name__}: {reason})") from e


def read_image_bytes(data, name="image"):
  """`read_image` for an encoded image in memory (e.g. an upload); nothing touches the disk."""
  return read_image(name, _array=_decode_bytes(data, name))


def read_trimap_bytes(data, name="trimap"):
  """`read_trimap` for an encoded trimap in memory."""
  return read_trimap(name, _array=_decode_bytes(data, name))


def read_grey_bytes(data, name="mask"):
  """`read_grey` for an encoded single-channel map (e.g. a mask) in memory."""
  return read_grey(name, _array=_decode_bytes(data, name))


def read_image(path, _array=None):
  """Reads an RGB image as float32 (H, W, 3) in [0,1]; greyscale is repeated to RGB."""
  array = _channels(_read_array(path) if _array is None else _array, path)
  if array.shape[0] < 2 or array.shape[1] < 2:
    raise MattingInputError(f"{path}: image of shape {array.shape[:2]} is too small")
  image = _to_unit_float(array, path)
  if image.shape[2] == 1:
    image = np.repeat(image, 3, axis=2)
  return np.ascontiguousarray(image)


def read_grey(path, _array=None):
  """Reads a single-channel map (alpha or trimap) as float32 (H, W) in [0,1].

  Colour files use their first channel (trimaps and GT mattes are stored with identical
  channels); RGBA files lose their alpha with a warning.
  """
  array = _channels(_read_array(path) if _array is None else _array, path)
  return np.ascontiguousarray(_to_unit_float(array[..., 0], path))


def read_alpha(path):
  """Reads an alpha matte as float32 (H, W) in [0,1]."""
  return read_grey(path)


def read_trimap(path, _array=None):
  """Reads a trimap as float32 (H, W) in {0, 0.5, 1} and checks it has FG and BG pixels."""
  trimap = quantize_trimap(read_grey(path, _array))
  check_trimap(trimap, name=os.fspath(path))
  return trimap


def check_same_size(shape_a, shape_b, path_a, path_b):
  """Raises MattingInputError when two files' (H, W) differ."""
  if tuple(shape_a[:2]) != tuple(shape_b[:2]):
    raise MattingInputError(f"{path_b}: size {tuple(shape_b[:2])} does not match "
                            f"{path_a} of size {tuple(shape_a[:2])}")


def read_image_and_trimap(image_path, trimap_path):
  """Reads and cross-checks an image and its trimap; returns (image, trimap)."""
  image = read_image(image_path)
  trimap = read_trimap(trimap_path)
  check_same_size(image.shape, trimap.shape, image_path, trimap_path)
  return image, trimap


# Temporary files of `atomic_path`: '.NAME.XXXXXXXX.matting-tmp.EXT' beside the target. A
# writer killed mid-write leaves one; the next write into that directory removes those older
# than STALE_TEMP_SECONDS (younger ones may belong to a writer still running).
TEMP_MARK = ".matting-tmp"
_TEMP_NAME = re.compile(r"^\..*\.[A-Za-z0-9_]{8}" + re.escape(TEMP_MARK) + r"(\.[^.]*)?$")
STALE_TEMP_SECONDS = 15 * 60
_swept_dirs = set()

ALPHA_OUTPUTS = (".png", ".npy")
RGB_OUTPUTS = (".png", ".jpg", ".jpeg")


def is_temp_name(name):
  """True for a file name of `atomic_path`'s temporary pattern."""
  return bool(_TEMP_NAME.match(name))


def remove_stale_temps(directory, max_age=STALE_TEMP_SECONDS):
  """Deletes `atomic_path` temporaries older than `max_age` seconds in `directory`."""
  cutoff = time.time() - max_age
  try:
    entries = list(os.scandir(directory))
  except OSError:
    return
  for entry in entries:
    if not is_temp_name(entry.name):
      continue
    try:
      if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
        os.remove(entry.path)
    except OSError:
      pass  # Removed by another process, or not ours to remove.


def check_output_path(path, kinds, field="output"):
  """Raises MattingInputError unless `path` ends in one of `kinds` and can become a file.

  Called before any work, so a bad output name fails in a second, not after the solve.
  """
  path = os.fspath(path)
  ext = os.path.splitext(path)[1].lower()
  if ext not in kinds:
    got = f"'{ext}'" if ext else "no extension"
    raise MattingInputError(f"{path}: unsupported output type ({got}); expected "
                            f"{' or '.join(kinds)}", field=field)
  if os.path.isdir(path):
    raise MattingInputError(f"{path}: is a directory; expected an output file name",
                            field=field)
  parent = os.path.dirname(os.path.abspath(path))
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent):
    raise MattingInputError(f"{path}: {parent} is a file, not a directory", field=field)


def _make_parents(directory):
  """Creates `directory` with its missing parents; returns those it created, deepest first."""
  created, node = [], directory
  while not os.path.isdir(node) and os.path.dirname(node) != node:
    created.append(node)
    node = os.path.dirname(node)
  os.makedirs(directory, exist_ok=True)
  return created


def _remove_dirs(created):
  for directory in created:
    try:
      os.rmdir(directory)
    except OSError:
      return  # Not empty (another writer) or already gone.


def _fsync(path):
  fd = os.open(path, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def _named_error(error, path, tmp=None):
  """`error` re-raised with the user's `path` in place of the hidden temporary's name."""
  text = str(error)
  if tmp:
    text = text.replace(tmp, path).replace(os.path.basename(tmp), os.path.basename(path))
  if isinstance(error, OSError):
    if error.errno is not None and error.strerror:
      try:
        return type(error)(error.errno, error.strerror, path)
      except TypeError:  # A subclass with its own constructor.
        return OSError(error.errno, error.strerror, path)
    return OSError(f"{path}: {text}")
  return MattingInputError(f"{path}: cannot write ({type(error).__name__}: {text})")


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path beside `path`; renames it onto `path` only on success.

  Readers never see a half-written file: the data is fsync'ed before the rename. A failure
  leaves neither the file, nor its temporary, nor directories this call created, and its
  error names `path`, not the temporary. The temporary keeps the extension so that writers
  dispatching on it still work.
  """
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  try:
    created = _make_parents(directory)
  except OSError as e:
    raise _named_error(e, path) from e
  if directory not in _swept_dirs:
    _swept_dirs.add(directory)
    remove_stale_temps(directory)
  base, ext = os.path.splitext(os.path.basename(path))
  try:
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f"{TEMP_MARK}{ext}", dir=directory)
  except OSError as e:
    _remove_dirs(created)
    raise _named_error(e, path) from e
  os.close(fd)
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; outputs get the usual mode.
  try:
    yield tmp
    _fsync(tmp)
    os.replace(tmp, path)
  except BaseException as e:
    if os.path.exists(tmp):
      os.remove(tmp)
    _remove_dirs(created)
    names_tmp = os.path.basename(tmp) in str(e)
    if isinstance(e, OSError) or (isinstance(e, Exception) and names_tmp):
      raise _named_error(e, path, tmp) from e
    raise


def _quantize(array, bits):
  if bits not in (8, 16):
    raise MattingInputError(f"bits must be 8 or 16, got {bits}", field="bits")
  dtype = np.uint8 if bits == 8 else np.uint16
  scale = np.iinfo(dtype).max
  return np.round(np.clip(array, 0.0, 1.0) * scale).astype(dtype)


def write_alpha(path, alpha, bits=8):
  """Writes a [0,1] matte atomically as an 8- or 16-bit greyscale image (or `.npy` float)."""
  alpha = np.asarray(alpha, dtype=np.float32)
  if alpha.ndim != 2:
    raise ValueError(f"alpha must be 2-D, got shape {alpha.shape}")
  if not np.all(np.isfinite(alpha)):
    raise ValueError(f"refusing to write {path}: alpha contains NaN or Inf")
  with atomic_path(path) as tmp:
    if os.fspath(path).lower().endswith(".npy"):
      np.save(tmp, alpha)
    else:
      import imageio.v3 as iio
      iio.imwrite(tmp, _quantize(alpha, bits))


def write_rgb(path, image):
  """Writes an (H, W, 3|4) [0,1] image atomically as 8-bit PNG/JPEG (RGBA keeps its alpha)."""
  image = np.asarray(image, dtype=np.float32)
  if image.ndim != 3 or image.shape[2] not in (3, 4):
    raise ValueError(f"image must be (H, W, 3|4), got shape {image.shape}")
  if not np.all(np.isfinite(image)):
    raise ValueError(f"refusing to write {path}: image contains NaN or Inf")
  import imageio.v3 as iio
  with atomic_path(path) as tmp:
    iio.imwrite(tmp, _quantize(image, 8))


def write_json(path, obj):
  """Writes `obj` as indented, key-sorted JSON, atomically."""
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      json.dump(obj, f, indent=2, sort_keys=True)
      f.write("\n")


def write_text(path, text):
  """Writes `text` to `path` atomically."""
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)
