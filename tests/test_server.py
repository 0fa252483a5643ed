"""`matting serve`'s HTTP API, in-process: PNG answers, 400 messages as the CLI's, 503 busy."""

import os
import tempfile
import threading
import urllib.error
import urllib.request
import uuid

import imageio.v3 as iio
import numpy as np
import pytest

from matting import cli, predict
from matting.app import server as app_server
from tests.conftest import two_colour_example
from tests.tiny_model import write_tiny_weights


def png(array):
  return iio.imwrite("<bytes>", np.round(np.asarray(array) * 255).astype(np.uint8),
                     extension=".png")


def multipart(fields):
  """(content type, body) for {name: bytes (a file named NAME.png) or str (a plain field)}."""
  boundary = uuid.uuid4().hex
  chunks = []
  for name, value in fields.items():
    if isinstance(value, str):
      head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
      data = value.encode()
    else:
      head = (f'Content-Disposition: form-data; name="{name}"; filename="{name}.png"\r\n'
              "Content-Type: image/png\r\n\r\n")
      data = value
    chunks.append(f"--{boundary}\r\n{head}".encode() + data + b"\r\n")
  chunks.append(f"--{boundary}--\r\n".encode())
  return f"multipart/form-data; boundary={boundary}", b"".join(chunks)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  return write_tiny_weights(tmp_path_factory.mktemp("weights") / "tiny.npz")


@pytest.fixture(scope="module")
def server(tiny):
  httpd = app_server.make_server("127.0.0.1", 0, model=predict.load_model(tiny), quiet=True)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield httpd
  httpd.shutdown()
  httpd.server_close()


@pytest.fixture(scope="module")
def example():
  image, trimap, alpha = two_colour_example()
  return {"image": png(image), "trimap": png(trimap), "alpha": alpha}


def post(server, path, fields, content_type=None):
  """(status, headers, body bytes) of a POST."""
  ctype, body = multipart(fields)
  request = urllib.request.Request(server.url.rstrip("/") + path, data=body, method="POST",
                                   headers={"Content-Type": content_type or ctype})
  try:
    with urllib.request.urlopen(request, timeout=120) as response:
      return response.status, response.headers, response.read()
  except urllib.error.HTTPError as e:
    return e.code, e.headers, e.read()


def test_page_is_served(server):
  with urllib.request.urlopen(server.url, timeout=30) as response:
    page = response.read().decode()
  assert response.headers["Content-Type"].startswith("text/html")
  assert 'id="image-file"' in page and "/api/cutout" in page
  with pytest.raises(urllib.error.HTTPError) as info:
    urllib.request.urlopen(server.url + "nothing", timeout=30)
  assert info.value.code == 404


def test_predict_and_cutout_return_pngs(server, example):
  status, headers, body = post(server, "/api/predict", example_fields(example))
  assert status == 200 and headers["Content-Type"] == "image/png"
  assert headers["X-Matting-Trimap"] == "trimap"
  alpha = iio.imread(body)
  assert alpha.shape == (40, 50) and alpha.dtype == np.uint8
  status, _, body = post(server, "/api/cutout", example_fields(example))
  assert status == 200 and iio.imread(body).shape == (40, 50, 4)
  status, _, body = post(server, "/api/cutout", dict(example_fields(example), background="#00ff00"))
  assert status == 200 and iio.imread(body).shape == (40, 50, 3)


def test_a_server_averages_over_its_symmetries(server, example, tiny, monkeypatch):
  """`matting serve --symmetries N` answers what `predict_image(symmetries=N)` computes."""
  from matting.data import io
  image = io.read_image_bytes(example["image"], "image.png")  # What the server decodes.
  trimap = io.read_trimap_bytes(example["trimap"], "trimap.png")
  params, cfg = server.model
  expected = {n: predict.predict_image(params, cfg, image, trimap, symmetries=n) for n in (1, 8)}
  assert np.abs(expected[8] - expected[1]).max() > 2 / 255  # Else the test could not fail.
  for n in (1, 8):
    monkeypatch.setattr(server, "symmetries", n)
    status, _, body = post(server, "/api/predict", example_fields(example))
    assert status == 200
    np.testing.assert_allclose(iio.imread(body) / 255, expected[n], atol=0.5 / 255 + 1e-6)
  # The CLI's flag reaches the server; a count that is not a symmetry never starts it.
  served = {}
  monkeypatch.setattr(app_server, "serve", lambda *a, **kw: served.update(kw) or 0)
  assert cli.main(["serve", "--checkpoint", tiny, "--symmetries", "8"]) == 0
  assert served["symmetries"] == 8
  with pytest.raises(SystemExit) as info:
    cli.main(["serve", "--symmetries", "3"])
  assert info.value.code == 2
  with pytest.raises(ValueError, match="symmetries must be one of"):
    app_server.make_server("127.0.0.1", 0, model=server.model, symmetries=3)


def example_fields(example):
  return {"image": example["image"], "trimap": example["trimap"]}


def test_scribbles_and_masks_are_accepted(server, example):
  alpha = example["alpha"]
  scribbles = np.full(alpha.shape, 0.5)
  scribbles[18:22, 20:30] = 1.0
  scribbles[1:3, 2:48] = 0.0
  status, headers, body = post(server, "/api/predict",
                               {"image": example["image"], "trimap": png(scribbles)})
  assert status == 200 and headers["X-Matting-Trimap"] == "scribbles"
  mask = png((alpha > 0.5).astype(float))
  status, _, body = post(server, "/api/trimap", {"mask": mask, "unknown_width": "6"})
  assert status == 200 and set(np.unique(iio.imread(body))) == {0, 128, 255}
  status, headers, _ = post(server, "/api/cutout", {"image": example["image"], "mask": mask})
  assert status == 200 and headers["X-Matting-Trimap"] == "trimap"


def test_bad_input_gets_400_with_the_cli_message(server, example, tiny, tmp_path, monkeypatch,
                                                 capsys):
  no_bg = png(np.where(example["alpha"] > 0.5, 1.0, 0.5))
  status, headers, body = post(server, "/api/predict", {"image": example["image"], "trimap": no_bg})
  assert status == 400 and headers["Content-Type"].startswith("text/plain")
  # The CLI, on files of the same names, prints the same message.
  monkeypatch.chdir(tmp_path)
  (tmp_path / "image.png").write_bytes(example["image"])
  (tmp_path / "trimap.png").write_bytes(no_bg)
  assert cli.main(["predict", "image.png", "trimap.png", "-o", "out.png",
                   "--checkpoint", tiny]) == 2
  assert capsys.readouterr().err == f"matting: error: {body.decode()}"
  assert body.decode() == "trimap.png: trimap has no background pixel (value <= 0.1)\n"

  small = png(np.tile([0.0, 1.0], (10, 5)))  # A usable trimap of the wrong size.
  cases = [
      ({"image": b"not an image", "trimap": example["trimap"]}, "image.png: cannot decode image"),
      ({"image": example["image"], "trimap": small}, "does not match image.png of size (40, 50)"),
      ({"image": example["image"]}, "missing form field 'trimap'"),
      ({"trimap": example["trimap"]}, "missing form field 'image'"),
      (dict(example_fields(example), background="mauvish"), "background: 'mauvish' is not a"),
      (dict(example_fields(example), scribbles="maybe"), "scribbles: must be auto, on or off"),
  ]
  for fields, message in cases:
    status, _, body = post(server, "/api/cutout", fields)
    assert status == 400 and message in body.decode(), (fields.keys(), body)
  status, _, body = post(server, "/api/predict", example_fields(example), content_type="text/plain")
  assert status == 400 and "multipart/form-data" in body.decode()


def test_too_large_images_are_refused_before_decoding(server, example, monkeypatch):
  monkeypatch.setattr(server, "max_pixels", 1000)
  status, _, body = post(server, "/api/predict", example_fields(example))
  assert status == 400
  assert body.decode() == ("image.png: image of 50x40 pixels is too large (this server takes at "
                           "most 1000 pixels)\n")


def test_a_request_waits_for_the_running_one_or_gets_503(server, example, monkeypatch):
  results = []
  threads = [threading.Thread(target=lambda: results.append(
      post(server, "/api/predict", example_fields(example))[0])) for _ in range(2)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert results == [200, 200]
  monkeypatch.setattr(server, "busy_timeout", 0.05)
  with server.lock:  # As if a long prediction were running.
    status, _, body = post(server, "/api/predict", example_fields(example))
  assert status == 503 and body.decode().startswith("busy:")
  assert post(server, "/api/predict", example_fields(example))[0] == 200


def test_a_failure_costs_one_request_not_the_server(server, example, monkeypatch, capsys):
  def broken(*args, **kwargs):
    raise RuntimeError("simulated bug")
  monkeypatch.setattr(predict, "predict_image", broken)
  status, _, body = post(server, "/api/predict", example_fields(example))
  assert status == 500 and "RuntimeError: simulated bug" in body.decode()
  monkeypatch.undo()
  assert post(server, "/api/predict", example_fields(example))[0] == 200


def test_uploads_leave_nothing_on_disk(server, example, tmp_path, monkeypatch):
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
  monkeypatch.chdir(tmp_path)
  assert post(server, "/api/cutout", example_fields(example))[0] == 200
  assert post(server, "/api/predict", {"image": b"junk", "trimap": b"junk"})[0] == 400
  assert os.listdir(tmp_path) == []


def test_multipart_parts_are_kept_byte_for_byte():
  data = bytes(range(256)) * 20 + b"\r\n--\r\n\r\n"
  ctype, body = multipart({"image": data, "note": "héllo"})
  fields = app_server.parse_multipart(ctype, body)
  assert fields["image"] == ("image.png", data)
  assert fields["note"][1].decode() == "héllo"
