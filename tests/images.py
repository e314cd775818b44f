"""Test images made with Pillow: photos with EXIF, PNGs with alpha, and things that only look like images."""

from __future__ import annotations

import io
import random

from PIL import Image


def photo(
    width: int = 3000,
    height: int = 2000,
    *,
    fmt: str = "JPEG",
    exif: bool = True,
    seed: int = 1,
    grain: tuple[int, int] = (60, 40),
) -> bytes:
    """A noisy picture (finer grain: bigger JPEG), optionally with EXIF like a phone's."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", grain, bytes(rng.randrange(256) for _ in range(grain[0] * grain[1] * 3)))
    img = small.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    kwargs = {}
    if exif and fmt == "JPEG":
        ex = Image.Exif()
        ex[0x010F] = "PhoneMaker"  # Make
        ex[0x0132] = "2026:05:01 10:00:00"  # DateTime
        kwargs["exif"] = ex.tobytes()
    img.save(out, fmt, **kwargs)
    return out.getvalue()
