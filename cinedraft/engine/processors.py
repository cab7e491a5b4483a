"""Vision-language processors loaded without torchvision.

Qwen-Image-Edit reads the instruction together with the source image through a Qwen2.5-VL
processor (``Qwen2VLProcessor``: a tokenizer, an image processor and a video processor).
transformers builds the video processor from torchvision only, and without torchvision it
cannot make the processor at all, though an image edit never uses its video half
(diffusers#13140, transformers#43986). cinedraft's CPU install has no torchvision: PyPI's
torchvision wheels are CUDA builds, which do not load beside the CPU build of torch.

So when torchvision is missing, the processor is loaded here from the same files into the same
class less its video half, and handed to diffusers as the pipeline's component.
"""

from __future__ import annotations

from pathlib import Path

from transformers.utils import is_torchvision_available

# model_index.json entries whose processor transformers builds with a video half
WITH_VIDEO = ("Qwen2VLProcessor", "Qwen2_5_VLProcessor")


def image_only_processors(path: Path, index: dict) -> dict[str, object]:
    """The components of the pipeline folder ``path`` (``index``: its model_index.json) that
    diffusers cannot load without torchvision, loaded without their video half; none when
    torchvision is installed (diffusers then loads them as they are)."""
    if is_torchvision_available():
        return {}
    return {
        name: _image_only(spec[1]).from_pretrained(path / name, local_files_only=True)
        for name, spec in index.items()
        if isinstance(spec, list) and spec[0] == "transformers" and spec[1] in WITH_VIDEO
    }


def _image_only(class_name: str) -> type:
    """``class_name``'s processor with an image processor and a tokenizer only: transformers
    reads a processor's parts from its ``__init__`` parameters, so this one reads no video
    processor and checks none."""
    import transformers

    base = getattr(transformers, class_name)

    def __init__(
        self,
        image_processor: object = None,
        tokenizer: object = None,
        chat_template: str | None = None,
        **kwargs: object,
    ):
        base.__init__(self, image_processor, tokenizer, None, chat_template=chat_template)

    return type(class_name, (base,), {"__init__": __init__})
