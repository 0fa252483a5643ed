"""Folder mode of `matting predict` and `matting cutout`: many images in one process.

Images and trimaps are paired by file stem (IMAGE_DIR/GT01.png with TRIMAP_DIR/GT01.png or
.jpg); each output is OUT_DIR/STEM.png. One process means the model is loaded and the network
compiled once. Outputs that exist are skipped unless `overwrite` (outputs are written
atomically, so a killed batch resumes where it stopped); a file that fails is reported on
stderr by name and the batch goes on.
"""

import os
import sys

from matting.console import Progress
from matting.data.datasets import image_files
from matting.errors import MattingInputError, cli_message


def folder_mode(image, trimap, output):
  """Whether (image, trimap) name two directories; MattingInputError for a file and a directory,
  or an output that is an existing file."""
  image_dir, trimap_dir = os.path.isdir(image), os.path.isdir(trimap)
  if image_dir != trimap_dir:
    folder, single = (image, trimap) if image_dir else (trimap, image)
    raise MattingInputError(f"{folder} is a directory but {single} is not: pass two image "
                            "files, or an image directory and a trimap directory")
  if image_dir and os.path.exists(output) and not os.path.isdir(output):
    raise MattingInputError(f"{output}: is a file; folder mode writes into a directory",
                            field="output")
  return image_dir


def pair_files(image_dir, trimap_dir):
  """(pairs, unpaired): [(stem, image_path, trimap_path)] and the images with no trimap.

  MattingInputError when either directory holds no image.
  """
  trimaps = {}
  for path in image_files(trimap_dir):
    trimaps.setdefault(os.path.splitext(os.path.basename(path))[0], path)
  pairs, unpaired = [], []
  for path in image_files(image_dir):
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem in trimaps:
      pairs.append((stem, path, trimaps[stem]))
    else:
      unpaired.append(path)
  return pairs, unpaired


def run_folder(image_dir, trimap_dir, out_dir, process, overwrite=False, label="predict",
               stream=None):
  """Runs process(image_path, trimap_path, out_path) on every pair; returns the exit status.

  0: every image has an output; 1: some failed (each reported on `stream` by name).
  """
  stream = stream or sys.stderr
  pairs, unpaired = pair_files(image_dir, trimap_dir)
  failed = 0
  for path in unpaired:
    print(f"matting: error: {path}: no trimap with this name in {trimap_dir}", file=stream)
    failed += 1
  todo = [(stem, image, trimap, os.path.join(out_dir, f"{stem}.png"))
          for stem, image, trimap in pairs]
  if not overwrite:
    done = [item for item in todo if os.path.exists(item[3])]
    todo = [item for item in todo if not os.path.exists(item[3])]
    if done:
      print(f"matting: {len(done)} of {len(pairs)} outputs exist in {out_dir}, skipped "
            "(--overwrite redoes them)", file=stream)
  os.makedirs(out_dir, exist_ok=True)
  progress = Progress(len(todo), label, stream=stream)
  written = 0
  for index, (stem, image, trimap, out) in enumerate(todo):
    progress.update(index, stem)
    try:
      process(image, trimap, out)
      written += 1
    except (MattingInputError, OSError) as e:
      failed += 1
      _report(progress, f"matting: error: {_named(e, image, trimap)}")
    except Exception as e:  # A failure on one image (e.g. memory) must not end the batch.
      failed += 1
      _report(progress, f"matting: error: {image}: {type(e).__name__}: {e}")
  if todo:
    progress.update(len(todo))
  progress.close()
  print(f"matting: {written} written, {len(pairs) - len(todo)} skipped, {failed} failed",
        file=stream)
  return 1 if failed else 0


def _named(error, image, trimap):
  """The error's message, led by the image's name unless it already names a file."""
  message = cli_message(error) if isinstance(error, MattingInputError) else str(error)
  return message if (image in message or trimap in message) else f"{image}: {message}"


def _report(progress, text):
  """Prints a line on the progress bar's stream without breaking a bar drawn in place."""
  if progress.tty:
    progress.stream.write("\r\x1b[2K")
    progress._open = False
  progress.stream.write(text + "\n")
  progress.stream.flush()
