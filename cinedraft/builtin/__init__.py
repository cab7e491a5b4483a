"""The models shipped inside the package, and the procedural world they were trained on."""

from pathlib import Path

MODELS = Path(__file__).resolve().parent / "models"
IMAGE_MODEL = MODELS / "image"
VIDEO_MODEL = MODELS / "video"
EDIT_MODEL = MODELS / "edit"  # instruction edits (InstructPix2Pix layout), ``builtin-edit``
