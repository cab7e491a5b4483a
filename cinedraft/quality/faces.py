"""Finding faces in an output, for a policy that flags them (see :mod:`cinedraft.policy`).

The detector must ship inside a package (nothing is downloaded): OpenCV 5's headless wheel
ships no cascade files and its YuNet detector needs an ONNX model fetched separately;
MediaPipe ships its models but pulls a large stack of its own. scikit-image ships a
public-domain LBP frontal-face cascade (an OpenCV-trained one), small and fast (about 50 ms
on 512 px here). It finds frontal faces only; profiles, small faces and stylised ones can be
missed, which the docs say. ``MIN_NEIGHBOURS`` 6 is where it still finds the astronaut in
scikit-image's sample photo and nothing in its sample photos without a face (a cat, coffee,
a rocket, a micrograph, a retina, the Hubble deep field), measured in the tests.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

SIDE = 512  # images are looked at no larger than this (the cascade's cost grows with area)
MIN_FACE = 32  # pixels, at that size
MIN_NEIGHBOURS = 6  # overlapping detections a face needs


@lru_cache(maxsize=1)
def _cascade():
    from skimage import data
    from skimage.feature import Cascade

    return Cascade(data.lbp_frontal_face_cascade_filename())


def find_faces(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of each frontal face found, in ``image``'s pixels."""
    scale = min(1.0, SIDE / max(image.size))
    small = image.convert("RGB")
    if scale < 1:
        small = small.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR
        )
    found = _cascade().detect_multi_scale(
        img=np.asarray(small),
        scale_factor=1.2,
        step_ratio=1,
        min_size=(MIN_FACE, MIN_FACE),
        max_size=(max(small.size), max(small.size)),
        min_neighbor_number=MIN_NEIGHBOURS,
    )
    return [
        (
            round(f["c"] / scale),
            round(f["r"] / scale),
            round(f["width"] / scale),
            round(f["height"] / scale),
        )
        for f in found
    ]
