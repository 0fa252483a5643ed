"""The `matting` command-line tool: classic mattes and scores for scripts and users.

  matting classic IMG TRIMAP --method cf|knn|comp -o OUT.png [--bits 16]
  matting score PRED GT TRIMAP [--json]
  matting predict IMG TRIMAP [--checkpoint WORKDIR|WEIGHTS.npz] -o ALPHA.png
  matting cutout IMG TRIMAP [--checkpoint ...] [--background COLOR|IMAGE] -o OUT.png
  matting export WORKDIR -o WEIGHTS.npz [--step best|latest|N]
  matting trimap MASK -o TRIMAP.png [--unknown-width PX]
  matting serve [--host 127.0.0.1] [--port 8000] [--symmetries 1|2|4|8]

predict and cutout also take an image directory and a trimap directory (-o names the output
directory; files pair by stem), and scribbles (a trimap with a few FG/BG strokes) for a trimap.

predict and cutout use the weights shipped with the package unless --checkpoint names a
training work directory or an exported weights file.

Bad input prints one line to stderr and exits with status 2; no partial output is left.
The classic subcommands never import JAX, so batch scripts start fast.
"""

import argparse
import json
import sys
import warnings

from matting.classic import METHODS as CLASSIC_METHODS
from matting.errors import MattingInputError, cli_message

EXIT_BAD_INPUT = 2


def _output_bits(path, bits):
  """8 or 16 bits per pixel: `--bits` wins; otherwise 16 for names ending in '16.png'."""
  if bits is not None:
    return bits
  return 16 if str(path).lower().endswith("16.png") else 8


def cmd_classic(args):
  from matting import classic
  from matting.data import io
  io.check_output_path(args.output, io.ALPHA_OUTPUTS)  # Before the (slow) solve.
  image, trimap = io.read_image_and_trimap(args.image, args.trimap)
  params = {}
  if args.constraint is not None:
    solvers_with_constraint = ("cf",) + classic.KNN_METHODS
    if args.method not in solvers_with_constraint:
      raise MattingInputError("--constraint: applies to --method "
                              f"{'|'.join(solvers_with_constraint)} only")
    params["constraint"] = args.constraint
  alpha = classic.classic_alpha(args.method, image, trimap, **params)
  io.write_alpha(args.output, alpha, bits=_output_bits(args.output, args.bits))
  return 0


def cmd_score(args):
  from matting.data import io
  from matting.evaluators import metrics
  pred = io.read_alpha(args.pred)
  gt = io.read_alpha(args.gt)
  trimap = io.read_trimap(args.trimap)
  io.check_same_size(gt.shape, pred.shape, args.gt, args.pred)
  io.check_same_size(gt.shape, trimap.shape, args.gt, args.trimap)
  scores = metrics.compute_metrics(pred, gt, trimap)
  if args.json:
    print(json.dumps({k: float(v) for k, v in scores.items()}))
  else:
    for key in metrics.METRIC_KEYS:
      print(f"{key:<5} {scores[key]:.6g}")
  return 0


def _predict(args, image, trimap, model=None, trimap_name=None):
  """Alpha from the model (loaded from args unless given); scribbles become a trimap first."""
  from matting import predict
  from matting.classic import strokes
  from matting.data import trimap_tools
  trimap_name = trimap_name or args.trimap
  keep_known = not args.raw
  caps = _working_resolutions(args)
  params, cfg = model or predict.load_model(args.checkpoint, args.step)

  def network(image, trimap):
    return predict.predict_image(params, cfg, image, trimap, keep_known=keep_known,
                                 engine=args.engine, symmetries=args.symmetries, **caps)

  if args.scribbles is None and model is None and trimap_tools.looks_like_scribbles(trimap):
    print(f"matting: note: {trimap_name}: {100 * trimap_tools.known_fraction(trimap):.1f} % "
          "known, read as scribbles (--no-scribbles: use it as a trimap)", file=sys.stderr)
  alpha, _ = strokes.matte(image, trimap, network, args.scribbles, trimap_name)
  return alpha


def _run_folder(args, write):
  """Folder mode: the model loads once, then write(image, alpha, out_path) per pair."""
  from matting import folders, predict
  from matting.data import io
  model = predict.load_model(args.checkpoint, args.step)

  def process(image_path, trimap_path, out_path):
    image, trimap = io.read_image_and_trimap(image_path, trimap_path)
    write(image, _predict(args, image, trimap, model, trimap_path), out_path)

  return folders.run_folder(args.image, args.trimap, args.output, process,
                            overwrite=args.overwrite, label=args.command)


def cmd_predict(args):
  from matting.data import io
  from matting.folders import folder_mode
  if folder_mode(args.image, args.trimap, args.output):
    return _run_folder(args, lambda image, alpha, out: io.write_alpha(
        out, alpha, bits=8 if args.bits is None else args.bits))
  io.check_output_path(args.output, io.ALPHA_OUTPUTS)  # Before the network runs.
  image, trimap = io.read_image_and_trimap(args.image, args.trimap)
  alpha = _predict(args, image, trimap)
  io.write_alpha(args.output, alpha, bits=_output_bits(args.output, args.bits))
  return 0


def cmd_cutout(args):
  from matting.compose import cutout, foreground
  from matting.data import io
  from matting.folders import folder_mode
  if folder_mode(args.image, args.trimap, args.output):
    if args.background is not None:  # Checked before the model loads.
      cutout.load_background(args.background, 2, 2)

    def write_cutout(image, alpha, out):
      fg, _ = foreground.estimate_foreground(image, alpha)
      if args.background is None:
        io.write_rgb(out, cutout.cutout_rgba(fg, alpha))
      else:
        background = cutout.load_background(args.background, *image.shape[:2])
        io.write_rgb(out, cutout.composite_on(fg, alpha, background))
    return _run_folder(args, write_cutout)
  if args.background is None and not str(args.output).lower().endswith(".png"):
    raise MattingInputError(f"-o {args.output}: an RGBA cut-out needs a .png name "
                            "(or pass --background to write RGB)")
  io.check_output_path(args.output, io.RGB_OUTPUTS)  # Before the network runs.
  image, trimap = io.read_image_and_trimap(args.image, args.trimap)
  background = None
  if args.background is not None:  # Checked before the (slow) prediction.
    background = cutout.load_background(args.background, *image.shape[:2])
  alpha = _predict(args, image, trimap)
  fg, _ = foreground.estimate_foreground(image, alpha)
  if background is None:
    io.write_rgb(args.output, cutout.cutout_rgba(fg, alpha))
  else:
    io.write_rgb(args.output, cutout.composite_on(fg, alpha, background))
  return 0


def cmd_trimap(args):
  from matting.data import io, trimap_tools
  io.check_output_path(args.output, io.ALPHA_OUTPUTS)
  mask = io.read_grey(args.mask)
  trimap = trimap_tools.trimap_from_mask(mask, args.unknown_width, name=args.mask)
  io.write_alpha(args.output, trimap)
  fg, bg = (trimap == 1).mean(), (trimap == 0).mean()
  print(f"{args.output}: {100 * fg:.1f} % foreground, {100 * bg:.1f} % background, "
        f"{100 * (1 - fg - bg):.1f} % unknown")
  return 0


def cmd_serve(args):
  from matting.app import server
  return server.serve(args.host, args.port, checkpoint=args.checkpoint, step=args.step,
                      max_pixels=args.max_pixels, symmetries=args.symmetries)


def cmd_export(args):
  from matting.data import io
  from matting.training import checkpoints
  io.check_output_path(args.output, (".npz",))
  command = f"matting export {args.workdir} --step {args.step} -o {args.output}"
  step = checkpoints.export_weights(args.workdir, args.output, args.step, command=command)
  print(f"exported step {step} of {args.workdir} to {args.output}")
  return 0


def _step(value):
  return value if value in ("best", "latest") else int(value)


def _add_model_arguments(p):
  p.add_argument("image", help="input image, or a directory of images (folder mode: -o names "
                               "the output directory, files pair by stem)")
  p.add_argument("trimap", help="trimap (0 = background, 255 = foreground, else unknown) or "
                                "scribbles, or a directory of them")
  p.add_argument("--checkpoint", default=None,
                 help="training work directory (holds config.json and checkpoints/) or a "
                      "weights file from `matting export`; default: the shipped weights")
  p.add_argument("--step", type=_step, default=None,
                 help="checkpoint of a work directory: best (validation SAD, default), "
                      "latest, or a step number")
  p.add_argument("--raw", action="store_true",
                 help="keep the network output on trimap-known pixels too")
  p.add_argument("--scribbles", action=argparse.BooleanOptionalAction, default=None,
                 help="read the trimap as scribbles (a few FG/BG strokes, the rest unknown) "
                      "and derive a trimap from their closed-form propagation; default: when "
                      "fewer than 25 %% of its pixels are FG or BG")
  p.add_argument("--overwrite", action="store_true",
                 help="folder mode: redo outputs that exist (default: skip them)")
  p.add_argument("--knn-max-pixels", type=_pixels, default=None, metavar="N",
                 help="solve the network's KNN input at a working resolution of at most N "
                      "pixels on larger images (default 1000000; 0: full resolution)")
  p.add_argument("--engine", choices=("numpy", "jax"), default="numpy",
                 help="the network's forward pass: numpy (CPU; no JAX start-up, the "
                      "default) or jax (any JAX backend, e.g. a GPU)")
  _add_symmetries_argument(p)
  p.add_argument("--cf-max-pixels", type=_pixels, default=None, metavar="N",
                 help="solve the network's closed-form input at a working resolution of at "
                      "most N pixels on larger images, faster but less exact (default 0: full "
                      "resolution)")
  _add_memory_argument(p)


def _add_symmetries_argument(p):
  from matting.models.inference import SYMMETRIES
  p.add_argument("--symmetries", type=int, choices=SYMMETRIES, default=1,
                 help="average the network over this many mirrored / transposed copies of "
                      "the input (test-time augmentation: as many forward passes, 0.1-3 %% "
                      "lower SAD; default 1)")


def _pixels(value):
  try:
    pixels = int(value)
  except ValueError:
    pixels = -1
  if pixels < 0:
    raise argparse.ArgumentTypeError(f"expected a number of pixels >= 0, got {value!r}")
  return pixels


def _working_resolutions(args):
  """--knn-max-pixels / --cf-max-pixels as predict_image's keyword arguments: the defaults,
  or None for 0 (full resolution)."""
  from matting import predict
  caps = {}
  for method, default in (("knn", predict.KNN_MAX_PIXELS), ("cf", predict.CF_MAX_PIXELS)):
    value = getattr(args, f"{method}_max_pixels")
    caps[f"{method}_max_pixels"] = default if value is None else value or None
  return caps


def _add_memory_argument(p):
  p.add_argument("--max-memory", default=None, metavar="SIZE",
                 help="memory budget of the closed-form solve, e.g. 4G or 800M: above it the "
                      "solve runs in overlapping tiles (default: half the machine's RAM)")


def _add_matte_output(p):
  p.add_argument("-o", "--output", required=True, help="output matte (.png or .npy)")
  p.add_argument("--bits", type=int, choices=(8, 16), default=None,
                 help="PNG bit depth (default 8, or 16 when the name ends in '16.png')")


def build_parser():
  parser = argparse.ArgumentParser(
      prog="matting", description="Natural image matting: classic mattes, DCNN, metrics.")
  sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

  p = sub.add_parser("classic", help="compute a classic matte (closed-form, KNN, sampling)",
                     description="Compute a classic alpha matte from an image and a trimap "
                                 "and write it as a greyscale PNG (or .npy float).")
  p.add_argument("image", help="input image (RGB; greyscale/RGBA/16-bit accepted)")
  p.add_argument("trimap", help="trimap (0 = background, 255 = foreground, else unknown)")
  p.add_argument("--method", choices=tuple(CLASSIC_METHODS), default="cf",
                 help="cf: closed-form (Levin 2008); knn: KNN matting (Chen 2013), knn_rgb: "
                      "on RGB features; comp: comprehensive sampling (Shahrian 2013), "
                      "comp_sampled: its sampled alpha before the smoothing, comp_confidence: "
                      "how far to trust it (a map, not a matte); nearest: nearest-sample "
                      "matte (not from the paper). Default: cf")
  p.add_argument("--constraint", choices=("soft", "hard"), default=None,
                 help="trimap constraint of cf/knn: soft (lambda=100 penalty, default) or "
                      "hard (solve the unknown pixels only)")
  _add_memory_argument(p)
  _add_matte_output(p)
  p.set_defaults(func=cmd_classic)

  p = sub.add_parser("score", help="SAD, MSE, Grad and Conn of a matte against ground truth",
                     description="Score a predicted matte against a ground-truth matte on the "
                                 "trimap's unknown pixels (alphamatting.com / Deep Image "
                                 "Matting evaluation: SAD/1000, MSE, Grad/1000, Conn/1000).")
  p.add_argument("pred", help="predicted alpha matte")
  p.add_argument("gt", help="ground-truth alpha matte")
  p.add_argument("trimap", help="trimap defining the unknown region")
  p.add_argument("--json", action="store_true",
                 help="print one JSON object with keys sad, mse, grad, conn")
  p.set_defaults(func=cmd_score)

  p = sub.add_parser("predict", help="predict alpha with a trained DCNN",
                     description="Compute the classic mattes the model needs, run the DCNN "
                                 "on the whole image and write the alpha matte.")
  _add_model_arguments(p)
  _add_matte_output(p)
  p.set_defaults(func=cmd_predict)

  p = sub.add_parser("cutout", help="cut out the foreground with a trained DCNN",
                     description="Predict alpha as `predict` does, estimate the foreground "
                                 "colours and write an RGBA PNG (RGB = foreground, A = alpha), "
                                 "or composite onto --background and write RGB.")
  _add_model_arguments(p)
  p.add_argument("--background", default=None,
                 help="composite onto a colour (white, black, green, ..., '#rrggbb' or "
                      "'r,g,b' in 0-255) or an image file (scaled to cover the input, "
                      "centre-cropped) instead of writing RGBA")
  p.add_argument("-o", "--output", required=True, help="output image (.png)")
  p.set_defaults(func=cmd_cutout)

  p = sub.add_parser("export", help="export a trained checkpoint as one weights file",
                     description="Write the parameters and config of one checkpoint of a "
                                 "training work directory as a small .npz that `predict "
                                 "--checkpoint` and `cutout --checkpoint` accept.")
  p.add_argument("workdir", help="training work directory (holds config.json and checkpoints/)")
  p.add_argument("--step", type=_step, default="best",
                 help="checkpoint to export: best (validation SAD), latest, or a step number")
  p.add_argument("-o", "--output", required=True, help="output weights file (.npz)")
  p.set_defaults(func=cmd_export)

  p = sub.add_parser("trimap", help="make a trimap from a binary or soft mask",
                     description="Turn a mask (e.g. a segmentation output; soft masks are "
                                 "thresholded at 0.5) into a trimap: FG is the eroded mask, BG "
                                 "lies outside the dilated mask, an unknown band between.")
  p.add_argument("mask", help="mask image (white = foreground)")
  p.add_argument("--unknown-width", type=float, default=None, metavar="PX",
                 help="width of the unknown band in pixels (default: 1 %% of the image "
                      "diagonal, at least 3)")
  p.add_argument("-o", "--output", required=True, help="output trimap (.png)")
  p.set_defaults(func=cmd_trimap)

  p = sub.add_parser("serve", help="a local web page: paint a trimap, get alpha and cut-out",
                     description="Serve a web page on this machine where you open an image, "
                                 "paint or upload a trimap (or a mask) and get the alpha and "
                                 "the cut-out; POST /api/predict and /api/cutout take "
                                 "multipart fields image and trimap and return a PNG.")
  p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
  p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
  p.add_argument("--checkpoint", default=None,
                 help="training work directory or weights file; default: the shipped weights")
  p.add_argument("--step", type=_step, default=None,
                 help="checkpoint of a work directory: best (default), latest, or a number")
  p.add_argument("--max-pixels", type=int, default=None,
                 help="largest image accepted, in pixels (default 4000000)")
  _add_symmetries_argument(p)
  p.set_defaults(func=cmd_serve)
  return parser


def _warn_to_stderr(message, category, filename, lineno, file=None, line=None):
  print(f"matting: warning: {message}", file=sys.stderr)


def main(argv=None):
  args = build_parser().parse_args(argv)
  warnings.showwarning = _warn_to_stderr
  from matting import console
  console.quiet_library_logs()
  from matting.memory import avoid_huge_page_stalls, max_memory_scope
  avoid_huge_page_stalls()
  try:
    with max_memory_scope(getattr(args, "max_memory", None)):
      return args.func(args)
  except MemoryError:  # An allocation the budget did not foresee; the output stays unwritten.
    print("matting: error: out of memory; pass a smaller --max-memory (the closed-form "
          "solve then tiles) or downscale the image", file=sys.stderr)
    return EXIT_BAD_INPUT
  except MattingInputError as e:
    print(f"matting: error: {cli_message(e)}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except OSError as e:  # e.g. an unwritable output directory; the message names the path.
    print(f"matting: error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
  sys.exit(main())
