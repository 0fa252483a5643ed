"""Screenshots of `matting serve`'s page before and after Predict, in headless Chromium.

  python docs/make_screenshots.py [--name GT01] [--out docs]

Serves the page in-process with the shipped weights, opens an alphamatting training image
(../shared/data/alphamatting) and its Trimap1 through the file inputs, saves
serve_before.png, presses Predict, waits for the result and saves serve_after.png. The
screenshots are scaled to 960 px wide and palettised (256 colours) to stay small.
"""

import argparse
import pathlib
import sys
import tempfile
import threading

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from matting import predict  # noqa: E402
from matting.app import server as app_server  # noqa: E402
from tests.test_browser import make_driver, wait_for_status  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "alphamatting"


def save_small(driver, path, width=960):
  """A screenshot scaled to `width` px and palettised, written to `path`."""
  import io
  from PIL import Image
  shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
  shot = shot.resize((width, round(shot.height * width / shot.width)), Image.LANCZOS)
  shot.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
  print(f"wrote {path}")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--name", default="GT01")
  parser.add_argument("--out", default=str(REPO / "docs"))
  args = parser.parse_args()
  image = DATA / "input_training_lowres" / f"{args.name}.png"
  trimap = DATA / "trimap_training_lowres" / "Trimap1" / f"{args.name}.png"
  httpd = app_server.make_server("127.0.0.1", 0, model=predict.load_model(), quiet=True)
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  out = pathlib.Path(args.out)
  with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
    driver = make_driver(profile)
    try:
      driver.set_window_size(1280, 1000)
      driver.get(httpd.url)
      driver.find_element("id", "image-file").send_keys(str(image))
      wait_for_status(driver, ("ready",), timeout=30)
      driver.find_element("id", "trimap-file").send_keys(str(trimap))
      wait_for_status(driver, ("ready",), timeout=30)
      save_small(driver, out / "serve_before.png")
      driver.find_element("id", "predict").click()
      state, text = wait_for_status(driver, ("done", "error"), timeout=300)
      print(f"status: {state}: {text}")
      save_small(driver, out / "serve_after.png")
    finally:
      driver.quit()
      httpd.shutdown()


if __name__ == "__main__":
  main()
