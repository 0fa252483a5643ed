"""Cut-outs from a matte: RGBA with the estimated foreground, or a composite onto a new background.

The RGB of a cut-out is the estimated foreground F (matting.foreground), not the input image:
at fractional alpha the image still holds some of the old background, which F removes.
Compositing is Eq. (1), I = alpha F + (1 - alpha) B, with B a plain colour or an image file;
an image is scaled (bilinear) to cover the input, keeping its aspect ratio, then centre-cropped.
"""

import os
import re

import numpy as np
from scipy import ndimage

from matting.data import io
from matting.errors import MattingInputError

NAMED_COLORS = {
    "white": (255, 255, 255), "black": (0, 0, 0), "red": (255, 0, 0), "green": (0, 255, 0),
    "blue": (0, 0, 255), "grey": (128, 128, 128), "gray": (128, 128, 128),
}
_HEX = re.compile(r"#([0-9a-fA-F]{6})")
_TRIPLE = re.compile(r"\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*")


def parse_color(text):
  """float32 (3,) RGB in [0,1] from 'white', '#rrggbb' or 'r,g,b' (0-255); None if not one."""
  text = text.strip()
  if text.lower() in NAMED_COLORS:
    rgb = NAMED_COLORS[text.lower()]
  elif _HEX.fullmatch(text):
    rgb = tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
  elif _TRIPLE.fullmatch(text):
    rgb = tuple(int(v) for v in _TRIPLE.fullmatch(text).groups())
    if max(rgb) > 255:
      raise MattingInputError(f"{text}: colour components must lie in 0-255",
                              field="background")
  else:
    return None
  return np.asarray(rgb, np.float32) / 255


def cover_resize(image, height, width):
  """`image` scaled bilinearly to cover (height, width), keeping its aspect, centre-cropped."""
  image_h, image_w = image.shape[:2]
  factor = max(height / image_h, width / image_w)
  out_h = max(height, round(image_h * factor))
  out_w = max(width, round(image_w * factor))
  scaled = ndimage.zoom(image, (out_h / image_h, out_w / image_w, 1), order=1, mode="nearest",
                        grid_mode=True)
  top, left = (out_h - height) // 2, (out_w - width) // 2
  return scaled[top:top + height, left:left + width]


def load_background(spec, height, width):
  """(height, width, 3) background from a colour (see `parse_color`) or an image file."""
  color = parse_color(spec)
  if color is not None:
    return np.broadcast_to(color, (height, width, 3))
  if not os.path.isfile(spec):
    raise MattingInputError(f"{spec}: neither a colour (a name such as white, "
                            "'#rrggbb' or 'r,g,b') nor an image file", field="background")
  try:
    background = io.read_image(spec)
  except MattingInputError as e:
    raise MattingInputError(str(e), field="background") from e
  return cover_resize(background, height, width)


def composite(foreground, alpha, background):
  """Eq. (1): I = αF + (1 - α)B, float32 clipped to [0, 1] (an estimated F may overshoot)."""
  foreground = np.asarray(foreground, dtype=np.float32)
  background = np.asarray(background, dtype=np.float32)
  alpha = np.asarray(alpha, dtype=np.float32)
  if not foreground.shape == background.shape == alpha.shape + (3,):
    raise MattingInputError(f"composite: foreground {foreground.shape}, alpha {alpha.shape} "
                            f"and background {background.shape} do not match")
  a = alpha[..., None]
  return np.clip(a * foreground + (1 - a) * background, 0.0, 1.0)


def cutout_rgba(foreground, alpha):
  """(H, W, 4) float32: RGB = the estimated foreground, A = alpha."""
  foreground = np.clip(np.asarray(foreground, np.float32), 0.0, 1.0)
  return np.concatenate([foreground, np.asarray(alpha, np.float32)[..., None]], axis=2)


def composite_on(foreground, alpha, background):
  """Eq. (1) onto `background`: a (3,) colour or an (H, W, 3) image, in [0,1]."""
  foreground = np.asarray(foreground, np.float32)
  background = np.broadcast_to(np.asarray(background, np.float32), foreground.shape)
  return composite(foreground, alpha, background)
