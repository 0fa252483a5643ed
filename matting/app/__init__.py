"""The local web app of `matting serve`: the page (static/index.html) and its server."""
