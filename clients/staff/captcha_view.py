"""The login captcha drawn in the terminal: two pixels per character cell (the upper
half block, foreground above and background below), for terminals that show colour."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from rich.text import Text

UPPER_HALF = "▀"


def terminal_image(png: bytes, width: int = 64) -> Text:
    """`png` scaled to `width` columns, keeping its aspect ratio."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    rows = max(1, round(image.height * width / image.width / 2))
    image = image.resize((width, rows * 2))
    picture = Text()
    for row in range(rows):
        for column in range(width):
            top = _rgb(image.getpixel((column, row * 2)))
            bottom = _rgb(image.getpixel((column, row * 2 + 1)))
            picture.append(UPPER_HALF, style=f"{top} on {bottom}")
        picture.append("\n")
    return picture


def _rgb(pixel: Any) -> str:
    """A pixel of an RGB image, (red, green, blue), as a rich colour."""
    return "rgb({},{},{})".format(*pixel)
