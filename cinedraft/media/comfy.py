"""A ComfyUI workflow for an image's recipe, in ComfyUI's API ("prompt") format.

ComfyUI stores the graph that made a PNG in its ``prompt`` text chunk, and loads a PNG
dropped on it from there. An SD-family image from cinedraft carries the same: its base pass
(checkpoint, LoRAs, prompts, an empty latent of the first-pass size, a KSampler) and, for
production, its hires pass (a Lanczos upscale to the output size, a KSampler at the refine
strength). The nodes and their inputs are ComfyUI's own core nodes (``nodes.py``), so the
graph runs in a stock install with the same checkpoint and LoRA files. It is a recipe, not a
bit-exact copy: ComfyUI's noise differs from diffusers' for the same seed, and the steps
ComfyUI has no node for (measured cleanup, colour keep) are listed in the JSON record only.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from ..weighting import as_a1111

# The families whose checkpoints ComfyUI's CheckpointLoaderSimple loads (SD 1.x/2.x, SDXL).
SD_FAMILIES = {
    "sd15",
    "sd-turbo",
    "lcm",
    "sdxl",
    "sdxl-turbo",
    "sdxl-lightning",
    "lcm-sdxl",
}
# cinedraft scheduler name -> ComfyUI (sampler_name, scheduler)
SAMPLERS = {
    "dpm++": ("dpmpp_2m", "normal"),
    "dpm++-karras": ("dpmpp_2m", "karras"),
    "unipc": ("uni_pc", "normal"),
    "euler": ("euler", "normal"),
    "euler-trailing": ("euler", "sgm_uniform"),
    "euler-a": ("euler_ancestral", "normal"),
    "heun": ("heun", "normal"),
    "ddim": ("ddim", "ddim_uniform"),
    "ddim-trailing": ("ddim", "sgm_uniform"),
    "lcm": ("lcm", "sgm_uniform"),
}


def comfy_workflow(record: dict) -> dict | None:
    """The API-format graph of ``record``'s recipe; None when ComfyUI's core nodes cannot
    run it (not an SD-family checkpoint, or a sampler ComfyUI has no match for)."""
    if (
        record.get("kind") != "image"
        or record.get("family") not in SD_FAMILIES
        or record.get("edit")  # an img2img/inpaint graph would need the source and the mask
    ):
        return None
    if record.get("scheduler") not in SAMPLERS:
        return None
    vaes = [a for a in record.get("adapters") or [] if a.get("kind") == "vae"]
    if any(not a["path"].endswith(".safetensors") for a in vaes):
        return None  # a diffusers VAE folder: ComfyUI's VAE loader takes one file
    sampler, schedule = SAMPLERS[record["scheduler"]]
    graph: dict[str, dict] = {}

    def node(class_type: str, **inputs: object) -> list:
        key = str(len(graph) + 1)
        graph[key] = {"class_type": class_type, "inputs": inputs}
        return [key, 0]

    checkpoint = node("CheckpointLoaderSimple", ckpt_name=_file_name(record["model"]))
    model, clip, vae = checkpoint, [checkpoint[0], 1], [checkpoint[0], 2]
    if record.get("clip_skip"):  # A1111's Clip skip N is ComfyUI's last layer -N
        clip = node("CLIPSetLastLayer", clip=clip, stop_at_clip_layer=-record["clip_skip"])
    for a in vaes:
        vae = node("VAELoader", vae_name=Path(a["path"]).name)
    for lora in (a for a in record.get("adapters") or [] if a.get("kind") == "lora"):
        loaded = node(
            "LoraLoader",
            model=model,
            clip=clip,
            lora_name=Path(lora["path"]).name,
            strength_model=lora["weight"],
            strength_clip=lora["weight"],
        )
        model, clip = loaded, [loaded[0], 1]
    # ComfyUI weighs words with A1111's parentheses, not with compel's syntax, and loads an
    # embedding a word names as "embedding:name".
    embeddings = [
        Path(a["path"]).stem for a in record.get("adapters") or [] if a.get("kind") == "embedding"
    ]

    def text(prompt: str) -> str:
        for name in embeddings:
            prompt = re.sub(
                rf"(?<![\w.:-]){re.escape(name)}(?![\w.-])", f"embedding:{name}", prompt
            )
        return as_a1111(prompt, comfy=True)

    positive = node("CLIPTextEncode", text=text(record["prompt"]), clip=clip)
    negative = node("CLIPTextEncode", text=text(record.get("negative_prompt") or ""), clip=clip)
    first = (
        record.get("base_width") or record["width"],
        record.get("base_height") or record["height"],
    )
    latent = node("EmptyLatentImage", width=first[0], height=first[1], batch_size=1)
    sampling = dict(
        model=model,
        seed=record["seed"],
        cfg=record["guidance"],
        sampler_name=sampler,
        scheduler=schedule,
        positive=positive,
        negative=negative,
    )
    image = node(
        "VAEDecode",
        samples=node(
            "KSampler", steps=record["steps"], latent_image=latent, denoise=1.0, **sampling
        ),
        vae=vae,
    )
    render = record.get("render") or {}
    strength = render.get("refine_strength") or 0
    if strength:  # the hires pass: ComfyUI runs `steps` of a schedule cut at `denoise`
        scaled = node(
            "ImageScale",
            image=image,
            upscale_method="lanczos",
            width=record["width"],
            height=record["height"],
            crop="disabled",
        )
        steps = max(1, int(render["refine_steps"] * strength))
        refined = node(
            "KSampler",
            steps=steps,
            latent_image=node("VAEEncode", pixels=scaled, vae=vae),
            denoise=strength,
            **sampling,
        )
        image = node("VAEDecode", samples=refined, vae=vae)
    node("SaveImage", images=image, filename_prefix="cinedraft")
    return graph


def _file_name(model: str) -> str:
    """The checkpoint file ComfyUI would list: the model's name as a ``.safetensors``."""
    name = Path(model.rstrip("/\\")).name
    return name if name.endswith(".safetensors") else f"{name}.safetensors"


# The node classes that sample (the graph is read from the first pass's sampler).
_SAMPLER_NODES = {"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"}
# Nodes that shape an image beyond the first pass, by a part of their class name (ComfyUI's
# own and the custom node packs most graphs carry: ControlNet, IPAdapter_plus, Impact Pack's
# detailers, upscale models); :func:`read_comfy_graph` lists those a graph holds.
SHAPING = {
    "ControlNet": "controlnet",
    "IPAdapter": "ipadapter",
    "Detailer": "detailer",
    "UpscaleModel": "upscale_model",
    "ImageUpscaleWithModel": "upscale_model",
}


def read_comfy_graph(text: str) -> dict | None:
    """What a ComfyUI image's API graph (its ``prompt`` text chunk) says made it: the prompt
    and negative prompt (the text of the encoders its first sampler's conditioning comes
    from, combined conditionings joined), seed, steps, CFG, sampler, scheduler, checkpoint,
    first-pass size, Clip skip and the VAE file it is decoded with; ``not_done``: what else
    shaped it (:data:`SHAPING`, a second sampler pass, a start image). None when the text
    is no API graph or holds no sampler. The graph is untrusted: only strings and numbers of
    the expected types are taken."""
    try:
        graph = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(graph, dict):
        return None
    nodes = {k: v for k, v in graph.items() if isinstance(v, dict)}
    samplers = [n for n in nodes.values() if n.get("class_type") in _SAMPLER_NODES]
    if not samplers:
        return None
    # The first pass: the sampler that starts from an empty latent, else the first listed.
    first = next((s for s in samplers if _size(nodes, _inputs(s).get("latent_image"))), None)
    sampler = first or samplers[0]
    inputs = _inputs(sampler)
    found: dict = {"tool": "ComfyUI"}
    for role, key in (("positive", "prompt"), ("negative", "negative_prompt")):
        texts = _texts(nodes, inputs.get(role))
        if texts:
            found[key] = ", ".join(texts)
    for name, key, kind in (
        ("seed", "seed", int),
        ("noise_seed", "seed", int),
        ("steps", "steps", int),
        ("cfg", "guidance", (int, float)),
        ("sampler_name", "sampler", str),
        ("scheduler", "scheduler", str),
    ):
        value = inputs.get(name)
        if isinstance(value, kind) and not isinstance(value, bool):
            found[key] = value
    if skip := _clip_skip(nodes, inputs.get("positive")):
        found["clip_skip"] = skip
    if vae := _vae(nodes, sampler):
        found["vae"] = vae
    model, loras = _checkpoint(nodes, inputs.get("model"))
    if model:
        found["model"] = model
    if loras:
        found["loras"] = loras
    if size := _size(nodes, inputs.get("latent_image")):
        found["width"], found["height"] = size
    kinds = {str(n.get("class_type")) for n in nodes.values()}
    shaping = {code for part, code in SHAPING.items() if any(part in k for k in kinds)}
    if len(samplers) > 1:
        shaping.add("second_pass")  # a hires pass or a refiner after the first
    starts = _upstream(nodes, inputs.get("latent_image"), _encodes_pixels)
    if any(_encodes_pixels(n) for n in starts):
        shaping.add("start_image")  # the first pass starts from an encoded image: img2img
    if shaping:
        found["not_done"] = sorted(shaping)
    return found


def _inputs(node: object) -> dict:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def _linked(nodes: dict, link: object) -> dict | None:
    """The node a ``[id, output]`` link points at, if it is one."""
    if isinstance(link, list) and len(link) == 2 and isinstance(link[0], (str, int)):
        node = nodes.get(str(link[0]))
        return node if isinstance(node, dict) else None
    return None


def _upstream(nodes: dict, link: object, end: Callable[[dict], bool]) -> Iterator[dict]:
    """Each node ``link`` leads back to, breadth first, once (so a graph made to branch or
    loop costs no more than its size), not past a node ``end`` says ends the way, nor
    through another sampler: an img2img conditioning's pixels may come from one, and its
    prompts are not this one's."""
    seen: set[int] = set()
    todo = deque([link])
    while todo:
        node = _linked(nodes, todo.popleft())
        if node is None or id(node) in seen or node.get("class_type") in _SAMPLER_NODES:
            continue
        seen.add(id(node))
        yield node
        if not end(node):
            todo += [v for v in _inputs(node).values() if isinstance(v, list)]


def _texts(nodes: dict, link: object) -> list[str]:
    """The prompt texts a conditioning comes from: an encoder's text (a string, or a string
    from the node it links to), through combining, concatenating and area nodes."""
    out: list[str] = []
    for node in _upstream(nodes, link, end=_encodes):
        if not _encodes(node):
            continue
        inputs = _inputs(node)
        for name in ("text", "text_g", "text_l", "prompt"):
            value = inputs.get(name)
            if not isinstance(value, str):  # a text from another node (a primitive)
                linked = _inputs(_linked(nodes, value)).values()
                value = next((v for v in linked if isinstance(v, str)), None)
            if value and value not in out:
                out.append(value)
    return out


def _encodes(node: dict) -> bool:
    return "CLIPTextEncode" in str(node.get("class_type"))


def _clip_skip(nodes: dict, link: object) -> int | None:
    """A1111's Clip skip of the text encoder a conditioning comes from: CLIP Set Last
    Layer's -N upstream of it (None for -1, the last layer, or none)."""

    def sets_layer(node: dict) -> bool:
        return node.get("class_type") == "CLIPSetLastLayer"

    for node in _upstream(nodes, link, end=sets_layer):
        if sets_layer(node):
            layer = _inputs(node).get("stop_at_clip_layer")
            number = isinstance(layer, int) and not isinstance(layer, bool)
            return -layer if number and -24 <= layer <= -2 else None
    return None


def _vae(nodes: dict, sampler: dict) -> str | None:
    """The VAE file that decodes what ``sampler`` makes, when a VAE loader gives it."""
    for node in nodes.values():
        inputs = _inputs(node)
        if (
            node.get("class_type") == "VAEDecode"
            and _linked(nodes, inputs.get("samples")) is sampler
        ):
            name = _inputs(_linked(nodes, inputs.get("vae"))).get("vae_name")
            return name if isinstance(name, str) else None
    return None


def _checkpoint(nodes: dict, link: object) -> tuple[str | None, list[dict]]:
    """The checkpoint (or diffusion model) file a model input comes from, and the LoRAs
    (file and model strength) loaded on the way."""
    loras: list[dict] = []
    seen: set[int] = set()
    while (node := _linked(nodes, link)) is not None and id(node) not in seen:
        seen.add(id(node))
        inputs = _inputs(node)
        for name in ("ckpt_name", "unet_name", "model_name"):
            if isinstance(inputs.get(name), str):
                return inputs[name], loras
        weight = inputs.get("strength_model")
        if isinstance(inputs.get("lora_name"), str):
            number = isinstance(weight, (int, float)) and not isinstance(weight, bool)
            loras.append({"name": inputs["lora_name"], "weight": weight if number else 1.0})
        link = inputs.get("model")
    return None, loras


def _encodes_pixels(node: dict) -> bool:
    """A node that encodes pixels to a latent (VAE Encode, its inpainting form)."""
    return "VAEEncode" in str(node.get("class_type"))


def _size(nodes: dict, link: object) -> tuple[int, int] | None:
    inputs = _inputs(_linked(nodes, link))
    w, h = inputs.get("width"), inputs.get("height")
    if isinstance(w, int) and isinstance(h, int) and not isinstance(w, bool):
        return w, h
    return None
