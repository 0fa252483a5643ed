"""`matting serve`: a local web page and a small HTTP API, on the standard library's server.

  GET  /              the page (static/index.html: open an image, paint or upload a trimap)
  POST /api/predict   multipart fields image, trimap -> the alpha matte (8-bit grey PNG)
  POST /api/cutout    image, trimap [, background=COLOUR] -> RGBA cut-out (RGB on a colour)
  POST /api/trimap    mask [, unknown_width=PX] -> trimap PNG (`matting trimap`)

predict and cutout accept `mask` (+ unknown_width) instead of `trimap`, and `scribbles`
(auto, on or off; default auto, as the CLI). Responses carry X-Matting-Trimap (trimap or
scribbles) and X-Matting-Seconds. Bad input gets 400 with the CLI's one-line message as
text/plain; a request arriving while another runs waits up to `busy_timeout` seconds, then
gets 503. Uploads are decoded from memory: nothing is written to disk. The model loads once
(at start-up in `serve`) and JAX keeps the compiled network between requests; `symmetries`
(`matting serve --symmetries N`) averages every prediction over N mirrored copies.
"""

import email.parser
import email.policy
import io as bytes_io
import os
import sys
import threading
import time
import traceback
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from matting.errors import MattingInputError

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_PIXELS = 4_000_000  # Largest image accepted (a 2-core CPU takes ~30 s on 4 MP).
MAX_BODY_BYTES = 100 * 1024 * 1024
BUSY_TIMEOUT_S = 120.0
ROUTES = ("/api/predict", "/api/cutout", "/api/trimap")


class HttpError(Exception):
  """A response other than 200: status code and a one-line text/plain message."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status = status


def parse_multipart(content_type, body):
  """{field name: (filename or None, bytes)} of a multipart/form-data body.

  The email package parses it (cgi is deprecated); parts are kept byte for byte.
  """
  if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
    raise MattingInputError("expected a multipart/form-data body with a boundary "
                            f"(got Content-Type {content_type or 'none'})")
  head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
  message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
  if not message.is_multipart():
    raise MattingInputError("malformed multipart/form-data body (no part found)")
  fields = {}
  for part in message.iter_parts():
    name = part.get_param("name", header="content-disposition")
    if name is not None:
      fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
  return fields


def encode_png(array):
  """PNG bytes of a [0,1] float (H, W) or (H, W, 3|4) array, 8 bits per channel."""
  import imageio.v3 as iio
  pixels = np.round(np.clip(np.asarray(array, np.float32), 0, 1) * 255).astype(np.uint8)
  return iio.imwrite("<bytes>", pixels, extension=".png")


def check_pixels(data, name, max_pixels):
  """MattingInputError when the encoded image's header says it exceeds max_pixels (read
  before decoding, so an oversized upload costs no memory)."""
  try:
    from PIL import Image
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")  # PIL's decompression-bomb warning: we check ourselves.
      width, height = Image.open(bytes_io.BytesIO(data)).size
  except Exception:  # Not decodable by PIL: io reports it when it decodes.
    return
  if width * height > max_pixels:
    raise too_large(name, width, height, max_pixels)


def too_large(name, width, height, max_pixels):
  return MattingInputError(f"{name}: image of {width}x{height} pixels is too large "
                           f"(this server takes at most {max_pixels} pixels)")


class MattingServer(ThreadingHTTPServer):
  """The HTTP server: holds the model, the one-at-a-time lock and the limits."""

  daemon_threads = True

  def __init__(self, address, model=None, checkpoint=None, step=None, max_pixels=None,
               busy_timeout=BUSY_TIMEOUT_S, quiet=False, symmetries=1):
    from matting.models.inference import check_symmetries
    check_symmetries(symmetries)  # Before binding the port: every request would fail on it.
    super().__init__(address, Handler)
    self.model, self.checkpoint, self.step = model, checkpoint, step
    self.symmetries = symmetries
    self.max_pixels = max_pixels or MAX_PIXELS
    self.busy_timeout, self.quiet = busy_timeout, quiet
    self.lock = threading.Lock()

  def get_model(self):
    """(params, cfg), loaded on first use when not given (call with the lock held)."""
    if self.model is None:
      from matting import predict
      self.model = predict.load_model(self.checkpoint, self.step)
    return self.model

  @property
  def url(self):
    host, port = self.server_address[:2]
    return f"http://{host}:{port}/"


def _field_text(fields, name, default=None):
  if name not in fields:
    return default
  return fields[name][1].decode("utf-8", "replace").strip()


class Handler(BaseHTTPRequestHandler):
  """GET serves the page; POST runs the API (see the module docstring)."""

  server_version = "matting"
  timeout = 120  # Seconds a stalled client may hold its connection (and thread).

  def log_message(self, format, *args):
    if not self.server.quiet:
      sys.stderr.write(f"matting: {self.address_string()} {format % args}\n")

  def _send(self, status, body, content_type, headers=()):
    self.send_response(status)
    self.send_header("Content-Type", content_type)
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Cache-Control", "no-store")
    for key, value in headers:
      self.send_header(key, value)
    self.end_headers()
    self.wfile.write(body)

  def _send_text(self, status, message):
    self._send(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8")

  def do_GET(self):
    path = self.path.split("?", 1)[0]
    if path in ("/", "/index.html"):
      with open(os.path.join(STATIC_DIR, "index.html"), "rb") as f:
        self._send(200, f.read(), "text/html; charset=utf-8")
    elif path == "/favicon.ico":
      self._send(204, b"", "image/x-icon")
    else:
      self._send_text(404, f"{path}: not found (the page is at /)")

  def do_POST(self):
    path = self.path.split("?", 1)[0]
    try:
      if path not in ROUTES:
        raise HttpError(404, f"{path}: not found (POST {', '.join(ROUTES)})")
      fields = parse_multipart(self.headers.get("Content-Type", ""), self._read_body())
      if not self.server.lock.acquire(timeout=self.server.busy_timeout):
        raise HttpError(503, "busy: another image is being processed; try again shortly")
      try:
        start = time.perf_counter()
        with warnings.catch_warnings():
          warnings.simplefilter("ignore")  # e.g. a canvas trimap's alpha channel, dropped.
          body, mode = self._run(path, fields)
        seconds = time.perf_counter() - start
      finally:
        self.server.lock.release()
      self._send(200, body, "image/png",
                 [("X-Matting-Trimap", mode), ("X-Matting-Seconds", f"{seconds:.2f}")])
    except MattingInputError as e:
      field = getattr(e, "field", None)
      self._send_text(400, f"{field.replace('_', ' ')}: {e}" if field else str(e))
    except HttpError as e:
      self.close_connection = e.status in (411, 413)  # The body was not read.
      self._send_text(e.status, str(e))
    except Exception as e:  # A bug must cost one request, never the server.
      traceback.print_exc(file=sys.stderr)
      self._send_text(500, f"internal error: {type(e).__name__}: {e}")

  def _read_body(self):
    length = self.headers.get("Content-Length")
    if length is None or not length.strip().isdigit():
      raise HttpError(411, "a Content-Length header is required")
    length = int(length)
    if length > MAX_BODY_BYTES:
      raise HttpError(413, f"upload of {length} bytes is too large (at most {MAX_BODY_BYTES})")
    return self.rfile.read(length)

  def _upload(self, fields, name):
    """(bytes, display name) of a file field, size-checked before decoding."""
    filename, data = fields[name]
    label = filename or name
    check_pixels(data, label, self.server.max_pixels)
    return data, label

  def _trimap(self, fields, image, image_name):
    """The trimap of a request, from its `trimap` or its `mask` field."""
    from matting.data import io, trimap_tools
    if "trimap" in fields:
      data, label = self._upload(fields, "trimap")
      trimap = io.read_trimap_bytes(data, label)
    elif "mask" in fields:
      data, label = self._upload(fields, "mask")
      mask = io.read_grey_bytes(data, label)
      io.check_same_size(image.shape, mask.shape, image_name, label)
      trimap = trimap_tools.trimap_from_mask(mask, self._width(fields), name=label)
    else:
      raise MattingInputError("missing form field 'trimap' (or 'mask')")
    io.check_same_size(image.shape, trimap.shape, image_name, label)
    return trimap, label

  @staticmethod
  def _width(fields):
    text = _field_text(fields, "unknown_width", "")
    if not text:
      return None
    try:
      return float(text)
    except ValueError:
      raise MattingInputError(f"{text!r} is not a number of pixels",
                              field="unknown_width") from None

  def _run(self, path, fields):
    """(PNG bytes, trimap mode) for one API request."""
    from matting.data import io, trimap_tools
    if path == "/api/trimap":
      if "mask" not in fields:
        raise MattingInputError("missing form field 'mask'")
      data, label = self._upload(fields, "mask")
      return encode_png(trimap_tools.trimap_from_mask(
          io.read_grey_bytes(data, label), self._width(fields), name=label)), "mask"
    if "image" not in fields:
      raise MattingInputError("missing form field 'image'")
    background = None
    if path == "/api/cutout" and _field_text(fields, "background"):
      from matting.compose import cutout
      background = cutout.parse_color(_field_text(fields, "background"))
      if background is None:
        raise MattingInputError(f"{_field_text(fields, 'background')!r} is not a colour "
                                "(a name such as white, '#rrggbb' or 'r,g,b')",
                                field="background")
    scribbles = {"": None, "auto": None, "on": True, "true": True, "1": True,
                 "off": False, "false": False, "0": False}.get(
                     _field_text(fields, "scribbles", "").lower(), "bad")
    if scribbles == "bad":
      raise MattingInputError("must be auto, on or off", field="scribbles")
    data, image_name = self._upload(fields, "image")
    image = io.read_image_bytes(data, image_name)
    if image.shape[0] * image.shape[1] > self.server.max_pixels:  # When PIL could not tell.
      raise too_large(image_name, image.shape[1], image.shape[0], self.server.max_pixels)
    trimap, trimap_name = self._trimap(fields, image, image_name)
    from matting import predict
    from matting.classic import strokes
    params, cfg = self.server.get_model()
    alpha, used_scribbles = strokes.matte(
        image, trimap, lambda image, trimap: predict.predict_image(
            params, cfg, image, trimap, symmetries=self.server.symmetries),
        scribbles, trimap_name)
    mode = "scribbles" if used_scribbles else "trimap"
    if path == "/api/predict":
      return encode_png(alpha), mode
    from matting.compose import cutout, foreground
    fg, _ = foreground.estimate_foreground(image, alpha)
    if background is None:
      return encode_png(cutout.cutout_rgba(fg, alpha)), mode
    return encode_png(cutout.composite_on(fg, alpha, background)), mode


def make_server(host="127.0.0.1", port=8000, **kwargs):
  """A MattingServer bound to (host, port) (port 0: any free one); see MattingServer."""
  return MattingServer((host, port), **kwargs)


def serve(host="127.0.0.1", port=8000, checkpoint=None, step=None, max_pixels=None,
          symmetries=1):
  """Loads the model, then serves until Ctrl-C; returns the exit status."""
  from matting import predict
  model = predict.load_model(checkpoint, step)  # A bad --checkpoint fails before listening.
  server = make_server(host, port, model=model, max_pixels=max_pixels, symmetries=symmetries)
  print(f"matting: serving {server.url} (Ctrl-C stops)", file=sys.stderr, flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
  return 0
