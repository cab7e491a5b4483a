"""Image and video quality measurements."""

# name -> True when a higher value means a clearer image (for sorting and verdicts). Here, not
# in ``metrics``, so the library and the CLI can name the metrics without importing OpenCV.
HIGHER_IS_CLEARER = {
    "sharpness": True,
    "tenengrad": True,
    "hf_ratio": True,
    "edge_width": False,
    "blockiness": False,
    "ringing": False,
    "noise": False,
    "chroma_outliers": False,
    "speckle": False,
    "overshoot": False,
}
