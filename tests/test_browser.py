"""The page of `matting serve` in a real headless browser (Debian's chromium + chromedriver).

Skipped when chromium, chromedriver or selenium is missing (.ci/run installs them).
"""

import shutil
import tempfile
import threading

import imageio.v3 as iio
import numpy as np
import pytest

from matting import predict
from matting.app import server as app_server
from tests.conftest import two_colour_example
from tests.tiny_model import write_tiny_weights

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="chromium and chromium-driver are not installed")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1280,800")


def make_driver(profile_dir):
  """A headless Chromium driven through /usr/bin/chromedriver (selenium-manager stays idle)."""
  from selenium.webdriver.chrome.service import Service
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in CHROMIUM_FLAGS:
    options.add_argument(flag)
  options.add_argument(f"--user-data-dir={profile_dir}")
  return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def wait_for_status(driver, states, timeout=120):
  """Waits until #status's data-state is one of `states`; returns (state, text)."""
  from selenium.webdriver.support.ui import WebDriverWait
  status = driver.find_element("id", "status")
  WebDriverWait(driver, timeout).until(lambda d: status.get_attribute("data-state") in states)
  return status.get_attribute("data-state"), status.text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
  tiny = write_tiny_weights(tmp_path_factory.mktemp("weights") / "tiny.npz")
  httpd = app_server.make_server("127.0.0.1", 0, model=predict.load_model(tiny), quiet=True)
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  yield httpd
  httpd.shutdown()
  httpd.server_close()


@pytest.fixture(scope="module")
def driver():
  with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
    browser = make_driver(profile)
    yield browser
    browser.quit()


@pytest.fixture
def files(tmp_path):
  image, trimap, _ = two_colour_example(48, 64)
  paths = {name: str(tmp_path / f"{name}.png") for name in ("image", "trimap", "small")}
  iio.imwrite(paths["image"], np.round(image * 255).astype(np.uint8))
  iio.imwrite(paths["trimap"], np.round(trimap * 255).astype(np.uint8))
  iio.imwrite(paths["small"], np.full((10, 10), 255, np.uint8))
  return paths


PAGE_ALPHA_MEAN = """
  const img = document.getElementById('alpha-img');
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
  const px = ctx.getImageData(0, 0, c.width, c.height).data;
  let sum = 0; for (let i = 0; i < px.length; i += 4) sum += px[i];
  return sum / (px.length / 4) / 255;
"""


def test_upload_image_and_trimap_then_predict(server, driver, files):
  driver.get(server.url)
  assert driver.find_element("id", "predict").get_attribute("disabled") is not None
  driver.find_element("id", "image-file").send_keys(files["image"])
  wait_for_status(driver, ("ready",), timeout=30)
  driver.find_element("id", "trimap-file").send_keys(files["small"])  # Wrong size: refused.
  state, text = wait_for_status(driver, ("error",), timeout=30)
  assert "does not match the image's 64 x 48" in text
  driver.find_element("id", "trimap-file").send_keys(files["trimap"])
  wait_for_status(driver, ("ready",), timeout=30)
  driver.find_element("id", "predict").click()
  state, text = wait_for_status(driver, ("done", "error"))
  assert state == "done", text
  alpha = driver.find_element("id", "alpha-img")
  assert (alpha.get_property("naturalWidth"), alpha.get_property("naturalHeight")) == (64, 48)
  assert (alpha.get_attribute("data-width"), alpha.get_attribute("data-height")) == ("64", "48")
  assert driver.find_element("id", "cutout-img").get_property("naturalWidth") == 64
  assert driver.find_element("id", "dl-alpha").get_attribute("aria-disabled") == "false"
  # The page's alpha (the cut-out's A channel) is the server's matte.
  expected = predict.predict_image(*server.model, iio.imread(files["image"]) / 255.0,
                                   iio.imread(files["trimap"]) / 255.0)
  assert abs(driver.execute_script(PAGE_ALPHA_MEAN) - float(np.mean(expected))) < 0.01


def paint_stroke(driver, points):
  """Drags the mouse through `points`, given as fractions (x, y) of the paint canvas."""
  from selenium.webdriver.common.actions.action_builder import ActionBuilder
  rect = driver.execute_script(
      "const r = document.getElementById('paint').getBoundingClientRect();"
      "return [r.left, r.top, r.width, r.height];")
  actions = ActionBuilder(driver)
  xy = [(int(rect[0] + fx * rect[2]), int(rect[1] + fy * rect[3])) for fx, fy in points]
  actions.pointer_action.move_to_location(*xy[0]).pointer_down()
  for x, y in xy[1:]:
    actions.pointer_action.move_to_location(x, y)
  actions.pointer_action.pointer_up()
  actions.perform()


def test_painted_strokes_are_read_as_scribbles(server, driver, files):
  driver.get(server.url)
  driver.find_element("id", "image-file").send_keys(files["image"])
  wait_for_status(driver, ("ready",), timeout=30)
  paint_stroke(driver, [(0.4, 0.5), (0.6, 0.5)])  # FG (the default brush) across the centre.
  driver.find_element("css selector", "label:has(#brush-bg)").click()
  paint_stroke(driver, [(0.05, 0.04), (0.95, 0.04)])  # BG along the top.
  driver.find_element("id", "predict").click()
  state, text = wait_for_status(driver, ("done", "error"))
  assert state == "done" and "scribbles" in text, text
