"""Card images drawn locally with Pillow: a gradient and a few shapes seeded by the slug.

Deterministic (the same slug always gives the same bytes) and fast (a few
milliseconds at 640x360), so the demo needs no downloads and no fixtures.
"""

from __future__ import annotations

import hashlib
import io
import random

from PIL import Image, ImageDraw, ImageFont

from .sections import Section

SIZE = (640, 360)


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return (int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16))


def _gradient(start: str, end: str, rng: random.Random) -> Image.Image:
    """A diagonal two-colour gradient, tilted differently per slug."""
    # Rotate a larger square and keep its middle, so no corner is left unfilled.
    square = Image.linear_gradient("L").resize((512, 512)).rotate(rng.uniform(-45, 45))
    mask = square.crop((86, 86, 426, 426)).resize(SIZE)
    return Image.composite(
        Image.new("RGB", SIZE, _rgb(end)), Image.new("RGB", SIZE, _rgb(start)), mask
    )


def draw_image(slug: str, section: Section, *, label: str = "") -> bytes:
    """JPEG bytes of the card image for ``slug`` in ``section``'s palette."""
    rng = random.Random(hashlib.sha256(slug.encode()).digest())
    image = _gradient(section.palette[0], section.palette[1], rng).convert("RGBA")
    overlay = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    width, height = SIZE
    for _ in range(rng.randint(4, 8)):
        colour = (*_rgb(rng.choice(section.palette[2:])), rng.randint(70, 170))
        x, y = rng.uniform(-80, width), rng.uniform(-80, height)
        size = rng.uniform(40, 220)
        shape = rng.choice(("circle", "ring", "bar", "triangle"))
        if shape == "circle":
            draw.ellipse((x, y, x + size, y + size), fill=colour)
        elif shape == "ring":
            draw.ellipse((x, y, x + size, y + size), outline=colour, width=int(size / 10) + 2)
        elif shape == "bar":
            draw.rounded_rectangle((x, y, x + size * 1.8, y + size / 4), size / 8, fill=colour)
        else:
            draw.polygon([(x, y + size), (x + size / 2, y), (x + size, y + size)], fill=colour)
    if label:
        font = ImageFont.load_default(size=34)
        draw.text((28, height - 62), label.upper(), font=font, fill=(255, 255, 255, 230))
    image = Image.alpha_composite(image, overlay).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=82)
    return buffer.getvalue()
