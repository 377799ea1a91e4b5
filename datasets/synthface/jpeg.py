"""The JPEG round trip: images are stored as the pixels a JPEG reader gets back, like real FER data."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode_jpeg(images: np.ndarray, quality: int) -> list[bytes]:
    """Encode each uint8 (H, W, 3) image (4:4:4 chroma, fixed quality)."""
    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling=0)
        encoded.append(buffer.getvalue())
    return encoded


def decode_jpeg(encoded: list[bytes]) -> np.ndarray:
    """uint8 (N, H, W, 3) pixels of JPEG files, as PIL reads them."""
    return np.stack([np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in encoded])
