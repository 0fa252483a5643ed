"""The `matting` command-line tool: classic mattes and scores for scripts and users.

  matting classic IMG TRIMAP --method cf|knn|comp -o OUT.png [--bits 16]
  matting score PRED GT TRIMAP [--json]
  matting predict IMG TRIMAP --checkpoint WORKDIR -o ALPHA.png

Bad input prints one line to stderr and exits with status 2; no partial output is left.
The classic subcommands never import JAX, so batch scripts start fast.
"""

import argparse
import json
import sys
import warnings

from matting.errors import MattingInputError

EXIT_BAD_INPUT = 2


def _output_bits(path, bits):
  """8 or 16 bits per pixel: `--bits` wins; otherwise 16 for names ending in '16.png'."""
  if bits is not None:
    return bits
  return 16 if str(path).lower().endswith("16.png") else 8


def cmd_classic(args):
  from matting import classic, io
  image, trimap = io.read_image_and_trimap(args.image, args.trimap)
  params = {}
  if args.constraint is not None:
    if args.method == "comp":
      raise MattingInputError("--constraint: applies to --method cf|knn only")
    params["constraint"] = args.constraint
  alpha = classic.classic_alpha(args.method, image, trimap, **params)
  io.write_alpha(args.output, alpha, bits=_output_bits(args.output, args.bits))
  return 0


def cmd_score(args):
  from matting import io, metrics
  pred = io.read_alpha(args.pred)
  gt = io.read_alpha(args.gt)
  trimap = io.read_trimap(args.trimap)
  io.check_same_size(gt.shape, pred.shape, args.gt, args.pred)
  io.check_same_size(gt.shape, trimap.shape, args.gt, args.trimap)
  scores = metrics.compute_metrics(pred, gt, trimap)
  if args.json:
    print(json.dumps({k: float(v) for k, v in scores.items()}))
  else:
    for key in ("sad", "mse", "grad", "conn"):
      print(f"{key:<5} {scores[key]:.6g}")
  return 0


def cmd_predict(args):
  from matting import io, predict
  image, trimap = io.read_image_and_trimap(args.image, args.trimap)
  params, cfg = predict.load_trained(args.checkpoint, args.step)
  alpha = predict.predict_image(params, cfg, image, trimap, keep_known=not args.raw)
  io.write_alpha(args.output, alpha, bits=_output_bits(args.output, args.bits))
  return 0


def _step(value):
  return value if value in ("best", "latest") else int(value)


def build_parser():
  parser = argparse.ArgumentParser(
      prog="matting", description="Natural image matting: classic mattes, DCNN, metrics.")
  sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

  p = sub.add_parser("classic", help="compute a classic matte (closed-form, KNN, sampling)",
                     description="Compute a classic alpha matte from an image and a trimap "
                                 "and write it as a greyscale PNG (or .npy float).")
  p.add_argument("image", help="input image (RGB; greyscale/RGBA/16-bit accepted)")
  p.add_argument("trimap", help="trimap (0 = background, 255 = foreground, else unknown)")
  p.add_argument("--method", choices=("cf", "knn", "comp"), default="cf",
                 help="cf: closed-form (Levin 2008); knn: KNN matting (Chen 2013); "
                      "comp: comprehensive sampling (Shahrian 2013). Default: cf")
  p.add_argument("--constraint", choices=("soft", "hard"), default=None,
                 help="trimap constraint of cf/knn: soft (lambda=100 penalty, default) or "
                      "hard (solve the unknown pixels only)")
  p.add_argument("-o", "--output", required=True, help="output matte (.png or .npy)")
  p.add_argument("--bits", type=int, choices=(8, 16), default=None,
                 help="PNG bit depth (default 8, or 16 when the name ends in '16.png')")
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
  p.add_argument("image", help="input image")
  p.add_argument("trimap", help="trimap (0 = background, 255 = foreground, else unknown)")
  p.add_argument("--checkpoint", required=True,
                 help="training work directory (holds config.json and checkpoints/)")
  p.add_argument("--step", type=_step, default="best",
                 help="checkpoint to use: best (validation SAD), latest, or a step number")
  p.add_argument("--raw", action="store_true",
                 help="keep the network output on trimap-known pixels too")
  p.add_argument("-o", "--output", required=True, help="output matte (.png or .npy)")
  p.add_argument("--bits", type=int, choices=(8, 16), default=None,
                 help="PNG bit depth (default 8, or 16 when the name ends in '16.png')")
  p.set_defaults(func=cmd_predict)
  return parser


def _warn_to_stderr(message, category, filename, lineno, file=None, line=None):
  print(f"matting: warning: {message}", file=sys.stderr)


def main(argv=None):
  args = build_parser().parse_args(argv)
  warnings.showwarning = _warn_to_stderr
  try:
    return args.func(args)
  except MattingInputError as e:
    print(f"matting: error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except OSError as e:  # e.g. an unwritable output directory; the message names the path.
    print(f"matting: error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
  sys.exit(main())
