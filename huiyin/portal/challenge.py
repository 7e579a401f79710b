"""The portal's challenge picture: a few characters drawn with noise, rotated one by one,
rendered here with Pillow (no third-party captcha service, nothing leaves the server)."""

from __future__ import annotations

import io
import random
import secrets

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SYMBOLS = "23456789ACDEFHJKLMNPRTUVWXY"  # nothing that reads as another symbol
ANSWER_LENGTH = 5
SIZE = (200, 70)


def answer_new() -> str:
    return "".join(secrets.choice(SYMBOLS) for _ in range(ANSWER_LENGTH))


def picture(answer: str) -> bytes:
    """The PNG of `answer`: each character in its own size and angle, lines and dots across."""
    rng = random.Random(secrets.randbits(64))
    image = Image.new("RGB", SIZE, (245, 247, 250))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        draw.line([(rng.randint(0, SIZE[0]), rng.randint(0, SIZE[1])) for _ in range(2)],
                  fill=(rng.randint(90, 180),) * 3, width=rng.randint(1, 2))
    x = 12
    for ch in answer:
        font = ImageFont.load_default(size=rng.randint(30, 40))
        glyph = Image.new("RGBA", (50, 60), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((8, 4), ch, font=font,
                                   fill=(rng.randint(0, 90), rng.randint(0, 90), rng.randint(60, 140), 255))
        glyph = glyph.rotate(rng.uniform(-30, 30), resample=Image.Resampling.BICUBIC, expand=False)
        image.paste(glyph, (x, rng.randint(0, 12)), glyph)
        x += rng.randint(30, 36)
    for _ in range(250):
        draw.point((rng.randint(0, SIZE[0] - 1), rng.randint(0, SIZE[1] - 1)), fill=(rng.randint(60, 200),) * 3)
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
