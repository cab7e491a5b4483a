"""Train the built-in edit model: InstructPix2Pix (Brooks et al., 2023) from the image model.

The result is a ``StableDiffusionInstructPix2PixPipeline`` folder, loaded by cinedraft through
``from_pretrained`` like any instruction-edit model. The recipe, for a 2-core CPU:

1. Start from the built-in image model: its VAE and tokenizer as they are; its text encoder
   and UNet fine-tuned. The UNet's first convolution gets 4 more input channels (the source
   image's latents), zero at the start, so training begins from the image model itself.
2. Render a pool of edit pairs (``cinedraft_training.edits``: one change of colour, object,
   place, surface or lighting, said in several phrasings), never a held-out change, and
   encode both images once.
3. The image model's objective on the after-image (v-prediction, cosine schedule, Min-SNR-5),
   given the before-image's latents (the VAE's mode, unscaled, as the pipeline feeds them)
   and the instruction; 5 % no text, 5 % no image, 5 % neither (the pipeline's two guidance
   scales need all three); EMA weights.
4. Every ``--checkpoint-every`` steps the live and EMA weights go to ``--work`` as
   safetensors with the step in ``state.json``: ``--resume`` continues from there (the
   optimizer's moments start afresh; the data and the learning-rate curve continue).
5. Save the pipeline (fp16 weights), ``cinedraft.json`` and ``training.json``.

    python scripts/train_builtin_edit.py --out cinedraft/builtin/models/edit      # full run
    python scripts/train_builtin_edit.py --out /tmp/quick --quick                 # smoke run
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    StableDiffusionInstructPix2PixPipeline,
    UNet2DConditionModel,
)
from safetensors.torch import load_file, save_file
from transformers import CLIPTextModel, CLIPTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cinedraft_training.edits import render_pair, sample_edit, understood  # noqa: E402
from cinedraft_training.recipe import SCHEDULE, learning_rate, update_ema  # noqa: E402

IMAGE_MODEL = Path(__file__).resolve().parents[1] / "cinedraft" / "builtin" / "models" / "image"


def load_image_model():
    vae = AutoencoderKL.from_pretrained(IMAGE_MODEL / "vae", torch_dtype=torch.float32)
    text = CLIPTextModel.from_pretrained(IMAGE_MODEL / "text_encoder", torch_dtype=torch.float32)
    tokenizer = CLIPTokenizer.from_pretrained(IMAGE_MODEL / "tokenizer")
    base = UNet2DConditionModel.from_pretrained(IMAGE_MODEL / "unet", torch_dtype=torch.float32)
    return vae, text, tokenizer, base


def edit_unet(base: UNet2DConditionModel) -> UNet2DConditionModel:
    """The image model's UNet with 8 input channels: the new 4 start at zero."""
    config = dict(base.config)
    config["in_channels"] = 8
    unet = UNet2DConditionModel.from_config(config)
    state = base.state_dict()
    old = state["conv_in.weight"]
    state["conv_in.weight"] = torch.cat([old, torch.zeros_like(old)], dim=1)
    unet.load_state_dict(state)
    return unet


def render_pool(n: int, seed: int, vae, log) -> dict:
    """``n`` pairs: before-latents (mode, unscaled), after-latents (mean and std), text."""
    rng = np.random.default_rng(seed)
    before, after, texts, kinds = [], [], [], []
    for i in range(n):
        edit = sample_edit(rng)
        a, b, _ = render_pair(edit)
        before.append(a)
        after.append(b)
        texts.append(edit.instruction)
        kinds.append(edit.kind)
        if (i + 1) % 2000 == 0:
            log("render", i, n)
    out = {"text": texts, "kind": kinds}
    with torch.no_grad():
        for name, images in (("before", before), ("after", after)):
            means, stds = [], []
            for start in range(0, n, 256):
                x = torch.from_numpy(np.stack(images[start : start + 256])).float()
                x = x.permute(0, 3, 1, 2) / 127.5 - 1
                dist = vae.encode(x).latent_dist
                means.append(dist.mean)
                stds.append(dist.std)
            out[name] = torch.cat(means)
            out[name + "_std"] = torch.cat(stds)
            log("encode", n - 1, n)
    return out


def train(args, unet, text, tokenizer, scale, pool, log, work: Path, start: int, ema):
    sched = DDPMScheduler(**SCHEDULE)
    alphas = sched.alphas_cumprod
    params = list(unet.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    ema_unet, ema_text = ema
    unet.train()
    text.train()
    n = len(pool["text"])
    empty = tokenizer([""], padding="max_length", max_length=32, return_tensors="pt").input_ids
    for step in range(start, args.steps):
        rng = np.random.default_rng([args.seed, step])  # resumable: the step names the data
        gen = torch.Generator().manual_seed(args.seed * 100_003 + step)
        idx = rng.integers(n, size=args.batch)
        drop = rng.random(args.batch)
        # [0, .05): no text; [.05, .10): no image; [.10, .15): neither
        no_text = (drop < 0.05) | ((drop >= 0.10) & (drop < 0.15))
        no_image = (drop >= 0.05) & (drop < 0.15)
        texts = ["" if no_text[i] else pool["text"][j] for i, j in enumerate(idx)]
        ids = tokenizer(
            texts, padding="max_length", max_length=32, truncation=True, return_tensors="pt"
        ).input_ids
        ids[torch.from_numpy(no_text)] = empty
        z0 = pool["after"][idx] + pool["after_std"][idx] * torch.randn(
            pool["after"][idx].shape, generator=gen
        )
        z0 = z0 * scale
        source = pool["before"][idx].clone()
        source[torch.from_numpy(no_image)] = 0
        t = torch.randint(0, 1000, (args.batch,), generator=gen)
        noise = torch.randn(z0.shape, generator=gen)
        a = alphas[t].view(-1, 1, 1, 1)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        v = a.sqrt() * noise - (1 - a).sqrt() * z0
        pred = unet(torch.cat([zt, source], dim=1), t, encoder_hidden_states=text(ids)[0]).sample
        snr = alphas[t] / (1 - alphas[t])
        weight = torch.clamp(snr, max=5.0) / (snr + 1)
        loss = (weight * ((pred - v) ** 2).mean(dim=(1, 2, 3))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for g in opt.param_groups:
            g["lr"] = learning_rate(args.lr, step, args.steps)
        opt.step()
        update_ema(((unet, ema_unet), (text, ema_text)), step, 0.999)
        log("train", step, args.steps, loss=float(loss))
        if args.checkpoint_every and (step + 1) % args.checkpoint_every == 0:
            checkpoint(work, step + 1, unet, text, ema_unet, ema_text)
    return ema_unet, ema_text


def checkpoint(work: Path, step: int, unet, text, ema_unet, ema_text) -> None:
    work.mkdir(parents=True, exist_ok=True)
    for name, model in (
        ("unet", unet),
        ("text", text),
        ("ema_unet", ema_unet),
        ("ema_text", ema_text),
    ):
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, work / f"{name}.tmp")
        (work / f"{name}.tmp").replace(work / f"{name}.safetensors")
    (work / "state.json").write_text(json.dumps({"step": step}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, help="checkpoints (default: OUT.work)")
    ap.add_argument("--pairs", type=int, default=16000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--resume", action="store_true", help="continue from --work's checkpoint")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 64 pairs, 3 steps")
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.steps, args.batch, args.checkpoint_every = 64, 3, 4, 2
    work = args.work or args.out.with_name(args.out.name + ".work")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.time()
    history: list[dict] = []

    def log(stage, step, steps, **values):
        if step == steps - 1 or step % 50 == 0:
            entry = {
                "stage": stage,
                "step": step,
                **values,
                "minutes": round((time.time() - started) / 60, 1),
            }
            history.append(entry)
            print(json.dumps(entry), flush=True)

    vae, text, tokenizer, base = load_image_model()
    vae.requires_grad_(False)
    unet = edit_unet(base)
    scale = vae.config.scaling_factor
    start = 0
    ema_unet, ema_text = copy.deepcopy(unet).eval(), copy.deepcopy(text).eval()
    if args.resume and (work / "state.json").is_file():
        start = json.loads((work / "state.json").read_text())["step"]
        for name, model in (
            ("unet", unet),
            ("text", text),
            ("ema_unet", ema_unet),
            ("ema_text", ema_text),
        ):
            model.load_state_dict(load_file(work / f"{name}.safetensors"))
        print(json.dumps({"resumed_at": start}), flush=True)
    for m in (ema_unet, ema_text):
        m.requires_grad_(False)
    pool = render_pool(args.pairs, args.seed, vae, log)
    ema_unet, ema_text = train(
        args, unet, text, tokenizer, scale, pool, log, work, start, (ema_unet, ema_text)
    )
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae,
        text_encoder=ema_text,
        tokenizer=tokenizer,
        unet=ema_unet,
        scheduler=DPMSolverMultistepScheduler(**SCHEDULE),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(torch.float16).save_pretrained(args.out, safe_serialization=True)
    marker = {"family": "builtin-edit", "understands": understood()}
    (args.out / "cinedraft.json").write_text(json.dumps(marker, indent=1))
    report = {
        "seed": args.seed,
        "pairs": args.pairs,
        "steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
        "resumed_from": start or None,
        "torch_threads": args.threads,
        "total_minutes": round((time.time() - started) / 60, 1),
        "final_loss": next((h for h in reversed(history) if h["stage"] == "train"), None),
        "started_from": "cinedraft/builtin/models/image (VAE and tokenizer as they are)",
    }
    (args.out / "training.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
