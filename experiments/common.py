"""Config pieces shared by experiment files; the scale of each is chosen by `mode`."""

import ml_collections

MODES = ("smoke", "cpu", "paper")

# Embedded synthetic validation set per mode: (number of images, height, width).
_SYNTHETIC_SCALE = {"smoke": (2, 120, 160), "cpu": (6, 480, 640), "paper": (24, 600, 800)}


def check_mode(mode):
  if mode not in MODES:
    raise ValueError(f"--mode: expected one of {MODES}, got {mode!r}")


def data_config(mode):
  """Where validation images come from: `dir` (alphamatting layout) or, if empty, synthetic."""
  check_mode(mode)
  num, height, width = _SYNTHETIC_SCALE[mode]
  return ml_collections.ConfigDict({
      "dir": "",
      "trimaps": ("Trimap1", "Trimap2"),
      "names": (),
      "synthetic": {"seed": 1234, "num": num, "height": height, "width": width,
                    "unknown_width": 10},
  })
