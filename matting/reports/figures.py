"""PNG figures for the experiment reports: qualitative grids, loss curves, response maps.

`qualitative_grid` draws one validation image the way the paper's Figs. 6-8 do (input, trimap,
ground truth, then each method's matte with its SAD), `loss_curves` the training and validation
histories written by matting/training/loop.py, and `response_maps` the per-layer activations
of Fig. 5.

Figures are built on `matplotlib.figure.Figure` directly (no pyplot), so nothing touches
matplotlib's global figure manager or interactive backends: PNGs are rendered by Agg.
matplotlib and JAX are imported inside the functions that need them, so importing this module
stays cheap and the classic path never loads JAX.
"""

import math

import numpy as np

from matting.data.io import atomic_path
from matting.data.trimap import trimap_masks
from matting.evaluators.metrics import sad

DPI = 100
ERROR_CMAP = "inferno"  # perceptually uniform, dark = no error
RESPONSE_CMAP = "viridis"


def _new_figure(width, height):
  from matplotlib.figure import Figure
  return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig, path):
  """Renders `fig` to a PNG at `path` atomically (a failed render leaves no file)."""
  with atomic_path(path) as tmp:
    fig.savefig(tmp, format="png", dpi=DPI)


def _show(ax, array, title=None, **imshow_kwargs):
  ax.imshow(array, interpolation="nearest", **imshow_kwargs)
  ax.set_xticks([])
  ax.set_yticks([])
  if title:
    ax.set_title(title, fontsize=9)
  return ax.images[-1]


def downscale(array, max_side):
  """Block-mean downscale of an (H, W[, C]) array by the smallest integer factor that brings
  its longer side to <= max_side (display only: edge rows/columns past a whole block drop)."""
  factor = max(1, math.ceil(max(array.shape[:2]) / max_side))
  if factor == 1:
    return np.asarray(array, np.float32)
  height, width = array.shape[0] // factor, array.shape[1] // factor
  blocks = np.asarray(array[:height * factor, :width * factor], np.float32)
  return blocks.reshape(height, factor, width, factor, *array.shape[2:]).mean(axis=(1, 3))


def qualitative_grid(path, image, trimap, gt, panels, title=None, error_maps=True,
                     max_side=400):
  """One validation image as in the paper's Figs. 6-8, written as a PNG.

  Row 1: image, trimap, ground truth, then each matte of `panels` (an ordered dict
  name -> (H, W) alpha) captioned with its SAD (matting.metrics.sad: unknown trimap pixels,
  /1000, computed at full resolution). Row 2 (when `error_maps`): |alpha - gt| of each panel
  on one shared colour scale, from 0 to the largest 99.5th percentile of the panels' errors on
  unknown pixels, so that a few outliers do not wash out the maps. Images are block-mean
  downscaled to <= `max_side` pixels per side for display (keeps the PNG around 1 MB or less).
  """
  gt = np.asarray(gt, np.float32)
  panels = {name: np.asarray(alpha, np.float32) for name, alpha in panels.items()}
  for name, alpha in panels.items():
    if alpha.shape != gt.shape:
      raise ValueError(f"panel {name!r} has shape {alpha.shape}, ground truth {gt.shape}")
  scores = {name: sad(alpha, gt, trimap) for name, alpha in panels.items()}
  errors = {name: np.abs(alpha - gt) for name, alpha in panels.items()}
  unknown = trimap_masks(trimap)[2]
  tops = [float(np.percentile(e[unknown], 99.5)) for e in errors.values()] if unknown.any() else []
  vmax = max(tops + [1.0 / 255.0])

  small = downscale(np.asarray(image, np.float32), max_side)
  inches_per_pixel = max(max(small.shape[:2]) / DPI, 2.0) / max(small.shape[:2])
  cell_w, cell_h = small.shape[1] * inches_per_pixel, small.shape[0] * inches_per_pixel
  rows, cols = (2 if error_maps else 1), 3 + len(panels)
  fig = _new_figure(cols * cell_w + (1.0 if error_maps else 0.2),
                    rows * (cell_h + 0.45) + (0.35 if title else 0.1))
  axes = fig.subplots(rows, cols, squeeze=False)
  grey = dict(cmap="gray", vmin=0.0, vmax=1.0)
  _show(axes[0, 0], np.clip(small, 0.0, 1.0), "image")
  _show(axes[0, 1], downscale(trimap, max_side), "trimap", **grey)
  _show(axes[0, 2], downscale(gt, max_side), "ground truth", **grey)
  for col, (name, alpha) in enumerate(panels.items(), start=3):
    _show(axes[0, col], np.clip(downscale(alpha, max_side), 0.0, 1.0),
          f"{name}\nSAD {scores[name]:.3g}", **grey)
  if error_maps:
    for ax in axes[1, :3]:
      ax.set_axis_off()
    for col, name in enumerate(panels, start=3):
      mappable = _show(axes[1, col], downscale(errors[name], max_side), cmap=ERROR_CMAP,
                       vmin=0.0, vmax=vmax)
    if panels:
      fig.colorbar(mappable, ax=axes[1, 3:], shrink=0.9, label="|alpha - GT|")
  if title:
    fig.suptitle(title)
  _save(fig, path)


def _validation_sets(val_entry):
  """The validation set names of one history['val'] entry (the keys holding metric dicts)."""
  return [key for key, value in val_entry.items() if isinstance(value, dict)]


def _val_series(history, metric):
  """{set name: (steps, values)} of `metric` over a history's validation entries."""
  series = {}
  for entry in history.get("val", []):
    for name in _validation_sets(entry):
      if metric in entry[name]:
        steps, values = series.setdefault(name, ([], []))
        steps.append(entry["step"])
        values.append(entry[name][metric])
  return series


def loss_curves(path, histories):
  """Training loss, validation loss and validation SAD against step, one colour per run.

  `histories`: {run name: history dict of matting/training/loop.py}. Validation sets are told apart
  by line style. Markers make single-point runs visible; a panel with no points says so. The
  training-loss axis is logarithmic when every plotted loss is positive.
  """
  from matplotlib import rcParams
  colours = rcParams["axes.prop_cycle"].by_key()["color"]
  styles = ("-", "--", ":", "-.")
  fig = _new_figure(15.0, 4.2)
  train_ax, loss_ax, sad_ax = fig.subplots(1, 3)
  set_names = list(dict.fromkeys(name for history in histories.values()
                                 for entry in history.get("val", [])
                                 for name in _validation_sets(entry)))
  train_losses = []
  for i, (run, history) in enumerate(histories.items()):
    colour = colours[i % len(colours)]
    train = history.get("train", [])
    if train:
      losses = [h["loss"] for h in train]
      train_losses += losses
      train_ax.plot([h["step"] for h in train], losses, "o-", color=colour, markersize=3,
                    label=run)
    for ax, metric in ((loss_ax, "val_loss"), (sad_ax, "sad")):
      for name, (steps, values) in _val_series(history, metric).items():
        label = run if len(set_names) == 1 else f"{run} / {name}"
        ax.plot(steps, values, styles[set_names.index(name) % len(styles)], color=colour,
                marker="o", markersize=3, label=label)
  if train_losses and min(train_losses) > 0:
    train_ax.set_yscale("log")
  for ax, title, ylabel in ((train_ax, "training loss", "loss"),
                            (loss_ax, "validation loss", "loss"),
                            (sad_ax, "validation SAD", "SAD / 1000")):
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if ax.lines:
      ax.legend(fontsize=7)
    else:
      ax.text(0.5, 0.5, "no points yet", ha="center", va="center", transform=ax.transAxes)
  _save(fig, path)


def layer_responses(params, model_config, patches):
  """[(layer label, (N, h, w, c) response)] of the DCNN on (N, H, W, C) input patches.

  F1 and the remap layers are shown after their ReLU (what the next layer sees); the last
  entry is the network's output, the predicted alpha (Fig. 5). The conv outputs come
  from flax's `capture_intermediates`, keyed by submodule name, so they are the same for every
  `conv_impl` (all impls share one parameter tree and module names).
  """
  import jax
  import jax.numpy as jnp

  from matting.models.dcnn import make_model
  model = make_model(model_config)
  alpha, state = model.apply(params, jnp.asarray(patches, jnp.float32), capture_intermediates=True,
                         mutable=["intermediates"])
  captured = state["intermediates"]
  names = ["structure"] + [f"remap_{n}" for n in range(1, model.num_remap_layers + 1)]
  responses = [(f"F{i}: {name}", np.asarray(jax.nn.relu(captured[name]["__call__"][0])))
               for i, name in enumerate(names, start=1)]
  return responses + [(f"F{len(names) + 1}: alpha", np.asarray(alpha))]


def most_active_channels(response, count):
  """Indices of the `count` channels of an (N, h, w, c) response with the largest mean,
  most active first (the mean over all patches, so every patch shows the same channels)."""
  return np.argsort(-response.mean(axis=(0, 1, 2)), kind="stable")[:count]


def response_maps(path, params, model_config, patches, channels=4, input_names=None):
  """Fig. 5: the inputs and each layer's responses for a few (typically two) patches.

  Each patch gets a block of rows; columns are the input (normalised RGB as colour, then each
  matte in grey), F1 (structure), the remap layers, and the predicted alpha. Hidden layers show
  their `channels` most active channels (largest mean response over all patches, so the
  patches can be compared channel by channel), each layer on one colour scale from 0 to its
  largest shown response. Maps are drawn in input coordinates: a VALID layer's smaller map
  sits over the input pixels it belongs to.

  Args:
    patches: a sequence of (H, W, C) arrays (27x27 in the paper), channels as in
      matting/inputs/stacks.py: normalised RGB, then the combination's mattes.
    input_names: names of the channels after RGB (default 'channel 4', ...).
  """
  patches = np.stack([np.asarray(p, np.float32) for p in patches])
  num, height, width, num_in = patches.shape
  input_names = list(input_names or [f"channel {c + 1}" for c in range(3, num_in)])
  if len(input_names) != num_in - 3:
    raise ValueError(f"input_names has {len(input_names)} names for {num_in - 3} channels "
                     "after RGB")
  layers = layer_responses(params, model_config, patches)
  picks = [most_active_channels(r, channels) for _, r in layers]
  rows_per_patch = max(channels, num_in - 2)
  fig = _new_figure(1.5 * (len(layers) + 1), 1.5 * num * rows_per_patch + 0.2)
  axes = fig.subplots(num * rows_per_patch, len(layers) + 1, squeeze=False)
  for ax in axes.flat:
    ax.set_axis_off()

  def show(ax, array, title, **kwargs):
    margin_h, margin_w = (height - array.shape[0]) / 2, (width - array.shape[1]) / 2
    ax.set_axis_on()
    _show(ax, array, title, extent=(margin_w - 0.5, width - margin_w - 0.5,
                                    height - margin_h - 0.5, margin_h - 0.5), **kwargs)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)

  for p in range(num):
    top = p * rows_per_patch
    show(axes[top, 0], np.clip(patches[p, :, :, :3], 0.0, 1.0), "normalised RGB")
    axes[top, 0].set_ylabel(f"patch {p + 1}")
    for c, name in enumerate(input_names):
      show(axes[top + 1 + c, 0], patches[p, :, :, 3 + c], name, cmap="gray", vmin=0.0,
           vmax=1.0)
    for col, ((label, response), pick) in enumerate(zip(layers, picks), start=1):
      is_alpha = col == len(layers)
      vmax = 1.0 if is_alpha else max(float(response[..., pick].max()), 1e-6)
      for row, channel in enumerate(pick):
        title = label if is_alpha else f"{label} #{channel}"
        show(axes[top + row, col], response[p, :, :, channel], title,
             cmap="gray" if is_alpha else RESPONSE_CMAP, vmin=0.0, vmax=vmax)
  _save(fig, path)
