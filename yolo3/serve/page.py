"""The browser page's files (plain HTML + JS + CSS, no build step), shipped as package data."""

from __future__ import annotations

from importlib import resources

MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8"}


def asset(name: str) -> tuple[bytes, str]:
    """(bytes, media type) of yolo3/serve/static/NAME; FileNotFoundError for anything else."""
    suffix = name[name.rfind("."):] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or suffix not in MEDIA_TYPES:
        raise FileNotFoundError(name)
    path = resources.files("yolo3.serve").joinpath("static", name)
    if not path.is_file():
        raise FileNotFoundError(name)
    return path.read_bytes(), MEDIA_TYPES[suffix]
