"""Train the built-in video model on procedural clips (CPU, seeded).

The video model is the built-in image model taught to move: an AnimateDiff-style
``UNetMotionModel`` (Guo et al., 2023) whose spatial layers start as the image model's UNet and
whose temporal attention modules start at zero, so step 0 draws the image model's frames. The
result is a diffusers ``AnimateDiffPipeline`` folder (VAE, text encoder, tokenizer, motion
UNet, scheduler; fp16 safetensors). The recipe, for a 2-core CPU:

1. Render ``--clips`` clips of ``motions.FRAMES`` frames at 64x64 from
   ``cinedraft_training.motions``, leaving out the held-out motion/object pairs and the image
   model's held-out colour/object pairs. A third of the clips start mid-motion, as a
   continuation chunk does.
2. Encode every frame once with the image model's (frozen) VAE.
3. Tokenizer: the image model's vocabulary plus the motion words; the text encoder starts
   from the image model's, with the embedding rows of shared tokens copied.
4. Train the motion UNet and the text encoder together: v-prediction on the image model's
   cosine schedule with a plain (unweighted) loss, noise whose frames share half their
   variance (``correlated_noise``), 10 % empty captions, EMA, and **random frame-conditioning
   masks**: for 70 % of the clips the first 1 to 4 frames are given clean (not noised) and the
   loss covers only the other frames. That teaches image-to-video (frame 0 given) and
   extension (the last frames of the previous chunk given) with the same weights; the
   sampler keeps the given frames' latents clean at every step (``engine/video.py``).
5. Save the pipeline and ``training.json``.

How the shipped weights were made (two stages, then runs A to S, each command with what it
measured) is in ``docs/builtin-video-training.md``. A smoke run of the recipe:

    python scripts/train_builtin_video.py --out /tmp/quick-video --quick
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import (
    AnimateDiffPipeline,
    AutoencoderKL,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    MotionAdapter,
    UNet2DConditionModel,
    UNetMotionModel,
)
from transformers import CLIPTextModel, CLIPTokenizer

from cinedraft.builtin import IMAGE_MODEL, reach  # noqa: E402
from cinedraft_training.motions import (  # noqa: E402
    FRAMES,
    MOTIONS,
    SLIDES,
    caption_clip,
    mirror_caption,
    motion_words,
    played_backwards,
    render_clip,
    sample_clip,
    start_anywhere,
)
from cinedraft_training.tokenizer import build_tokenizer  # noqa: E402
from cinedraft_training.recipe import SCHEDULE, learning_rate, update_ema  # noqa: E402


def render_dataset(n: int, seed: int, free_starts: float = 0.0):
    """``n`` clips (N, F, 64, 64, 3) uint8 with their (scene, motion, start time). A share
    ``free_starts`` of the slides start anywhere (``motions.start_anywhere``), from the
    start of the motion, instead of where there is room to move."""
    rng = np.random.default_rng(seed)
    items, clips = [], []
    for _ in range(n):
        scene, motion = sample_clip(rng, held_out=False)
        start = 0.0 if rng.random() < 0.67 else float(rng.uniform(0.3, 1.0))
        # no draw when off, so earlier recipes render the same clips as when they were run
        if free_starts and motion in SLIDES and rng.random() < free_starts:
            scene, start = start_anywhere(scene, rng), 0.0
        items.append((scene, motion, start))
        clips.append(render_clip(scene, motion, FRAMES, 64, rng, start=start))
    return items, np.stack(clips)


def encode_dataset(vae, clips: np.ndarray, batch: int = 512):
    frames = clips.reshape(-1, *clips.shape[2:])
    means, stds = [], []
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(frames[i : i + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
            dist = vae.encode(x).latent_dist
            means.append(dist.mean)
            stds.append(dist.std)
    shape = (len(clips), FRAMES, 4, 16, 16)
    return torch.cat(means).reshape(shape), torch.cat(stds).reshape(shape)


def build_text_encoder(old_tok: CLIPTokenizer, new_tok: CLIPTokenizer) -> CLIPTextModel:
    """The image model's text encoder with its vocabulary resized to ``new_tok``: rows of
    tokens both vocabularies share are copied, new tokens start at the mean embedding."""
    old = CLIPTextModel.from_pretrained(IMAGE_MODEL / "text_encoder", dtype=torch.float32)
    config = copy.deepcopy(old.config)
    n = len(new_tok)
    config.vocab_size, config.bos_token_id, config.eos_token_id, config.pad_token_id = (
        n,
        n - 2,
        n - 1,
        n - 1,
    )
    new = CLIPTextModel(config)
    state = old.state_dict()
    old_table = old.get_input_embeddings().weight.detach()
    state = {k: v for k, v in state.items() if v.data_ptr() != old_table.data_ptr()}
    missing, unexpected = new.load_state_dict(state, strict=False)
    assert not unexpected and all("token_embedding" in k for k in missing), (missing, unexpected)
    old_vocab, table = old_tok.get_vocab(), new.get_input_embeddings().weight
    with torch.no_grad():
        table[:] = old_table.mean(0)
        for token, i in new_tok.get_vocab().items():
            if token in old_vocab:
                table[i] = old_table[old_vocab[token]]
    return new


def correlated_noise(shape, generator, rho: float) -> torch.Tensor:
    """Gaussian noise (B, C, F, H, W) whose frames share a fraction ``rho`` of their variance
    (the mixed noise prior of Ge et al., 2023, "Preserve Your Own Correlation"): frames start
    alike, so the model learns how they differ instead of how to make them agree."""
    shared = torch.randn(shape[:2] + (1,) + shape[3:], generator=generator)
    own = torch.randn(shape, generator=generator)
    return rho**0.5 * shared + (1 - rho) ** 0.5 * own


def conditioning_mask(
    rng: np.random.Generator, batch: int, text_share: float = 0.30
) -> torch.Tensor:
    """(B, F) bool, True where a frame is given clean: ``text_share`` none (text to video);
    of the rest, half the first frame (image to video), half the first 2-4 frames
    (extension)."""
    known = torch.zeros(batch, FRAMES, dtype=torch.bool)
    for b in range(batch):
        r = rng.random()
        k = 0 if r < text_share else 1 if r < (1 + text_share) / 2 else int(rng.integers(2, 5))
        known[b, :k] = True
    return known


def motion_weight(z0: torch.Tensor, strength: float) -> torch.Tensor:
    """Loss weights (B, 1, F, H, W) that put ``strength`` more weight on the latent pixels
    that change over the clip, normalised to mean 1 per clip. The moving object covers a few
    percent of a frame, so a plain loss is nearly met by a still clip: the stage-2 model made
    coherent frames that hardly moved (motion accuracy at chance)."""
    if not strength:
        return torch.ones_like(z0[:, :1])
    change = (z0 - z0[:, :, :1]).abs().mean(dim=1, keepdim=True)  # (B, 1, F, H, W) vs frame 0
    change = change / (change.amax(dim=(2, 3, 4), keepdim=True) + 1e-6)
    weight = 1 + strength * change
    return weight / weight.mean(dim=(2, 3, 4), keepdim=True)


def batch_clips(items, idx, rng: np.random.Generator, reverse_share: float):
    """The (scene, motion) each drawn clip shows, and which clips to play backwards: a share
    ``reverse_share`` of those with a mirror motion (``motions.played_backwards``), so the
    same scene is seen moving both ways and the direction word has to be read."""
    shown, backwards = [], []
    for i in idx:
        scene, motion, start = items[i]
        # no draw when off, so earlier recipes see the same batches as when they were run
        flip = bool(reverse_share) and rng.random() < reverse_share
        mirror = played_backwards(scene, motion, start) if flip else None
        shown.append((scene, motion) if mirror is None else mirror[:2])
        backwards.append(mirror is not None)
    return shown, torch.tensor(backwards)


def placed(motion: str, rng: np.random.Generator, unplaced_slides: float) -> bool:
    """Whether a caption may name the object's place: a share ``unplaced_slides`` of the
    slides' captions never do, so their only side word is the direction's (a full caption
    names a side twice, ``on the right ..., the jar slides left``)."""
    # no draw when off, so earlier recipes see the same captions as when they were run
    return not (unplaced_slides and motion in SLIDES and rng.random() < unplaced_slides)


def clip_losses(unet, text_encoder, ids, zt, t, v, z0, known, args):
    """(B,) each clip's v-prediction loss under captions ``ids``, over its free (not given)
    frames, latent pixels that change weighted up by ``--motion-weight``; and the captions'
    text states (B, L, D)."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        states = text_encoder(ids)[0]  # (B, L, D)
        text = states.repeat_interleave(FRAMES, dim=0)  # (B*F, L, D)
        pred = unet(zt, t, encoder_hidden_states=text).sample.float()
    # Plain v-prediction loss: Min-SNR weights (the image recipe) all but ignore the
    # noisiest steps, where the frames' common layout, hence coherence, is decided.
    per_frame = (motion_weight(z0, args.motion_weight) * (pred - v) ** 2).mean(
        dim=(1, 3, 4)
    )  # (B, F)
    free = (~known).float()
    return (per_frame * free).sum(1) / free.sum(1), states


def probe_loss(
    head: torch.Tensor, states: torch.Tensor, labels: torch.Tensor, scale: float = 10.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of a cosine classifier that names each caption's motion (``labels``,
    indices into ``motions.MOTIONS``) from the mean of its text states (B, L, D) over all
    tokens, padding included, as ``reach``'s route pools before it learns its query; and
    which captions it names right. Angles, not lengths: the encoder can only meet it by
    making the motion, its direction included, a large part of that mean, which the
    common part of every caption otherwise swamps."""
    pooled = F.normalize(states.float().mean(1), dim=-1)
    logits = scale * pooled @ F.normalize(head, dim=-1).T  # (B, motions)
    return F.cross_entropy(logits, labels), logits.argmax(-1) == labels


def mirrored_captions(captions, shown, known) -> list[tuple[int, str]]:
    """(row, caption with the mirror motion) for the batch's captioned text-to-video slides
    and zooms (``motions.mirror_caption``). Text to video only: with a frame given, the
    mirror's caption already denoises a clip about twice as badly as its own; drawing the whole
    clip, the gap was a few percent either way."""
    pairs = [
        (b, mirror_caption(caption, *shown[b]))
        for b, caption in enumerate(captions)
        if caption and not known[b, 0]
    ]
    return [(b, mirrored) for b, mirrored in pairs if mirrored is not None]


def train(unet, text_encoder, tokenizer, items, means, stds, args, log, scale, save):
    rng = np.random.default_rng(args.seed + 1)
    gen = torch.Generator().manual_seed(args.seed + 1)
    alphas = DDPMScheduler(**SCHEDULE).alphas_cumprod  # (T,)
    if args.freeze_spatial:  # AnimateDiff's recipe: only the temporal modules learn
        for name, p in unet.named_parameters():
            p.requires_grad_("motion_modules" in name)
    # The reach offsets and biases learn fast; its text projections at the temporal rate.
    reach_params = [p for n, p in unet.named_parameters() if ".processor.offset_" in n]
    motion = [
        p
        for n, p in unet.named_parameters()
        if "motion_modules" in n and ".processor.offset_" not in n
    ]
    others = [
        p for n, p in unet.named_parameters() if "motion_modules" not in n and p.requires_grad
    ]
    groups = [
        {"params": motion, "base_lr": args.motion_lr or args.lr},
        {"params": reach_params, "base_lr": args.reach_lr},
        {"params": others + list(text_encoder.parameters()), "base_lr": args.lr},
    ]
    if args.text_probe:  # a classifier of the caption's motion, at the reach rate, not saved
        # (its own generator, so the batches stay those the same recipe draws without it)
        probe_gen = torch.Generator().manual_seed(args.seed + 2)
        probe_head = torch.nn.Parameter(
            torch.randn(len(MOTIONS), text_encoder.config.hidden_size, generator=probe_gen)
        )
        groups.append({"params": [probe_head], "base_lr": args.reach_lr})
    params = [p for g in groups for p in g["params"]]
    opt = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.01)
    ema_unet, ema_text = copy.deepcopy(unet).eval(), copy.deepcopy(text_encoder).eval()
    for m in (ema_unet, ema_text):
        m.requires_grad_(False)
    unet.train()
    text_encoder.train()
    steps, batch = args.steps, args.batch
    preferred: list[bool] = []  # direction contrast: did the true caption denoise better
    named: list[bool] = []  # text probe: was each captioned slide's motion named (direction too)
    for step in range(steps):
        idx = rng.integers(len(items), size=batch)
        known = conditioning_mask(rng, batch, args.text_share)  # (B, F)
        shown, backwards = batch_clips(items, idx, rng, args.reverse_share)
        captions = [  # 10 % empty (guidance); given frames: 20 % just the motion phrase
            ""
            if rng.random() < 0.1
            else caption_clip(
                *shown[b],
                rng,
                motion_only=bool(known[b, 0]) and rng.random() < 0.2,
                place=placed(shown[b][1], rng, args.unplaced_slides),
            )
            for b in range(batch)
        ]
        ids = tokenizer(
            captions, padding="max_length", max_length=32, truncation=True, return_tensors="pt"
        ).input_ids
        z0 = (means[idx] + stds[idx] * torch.randn(means[idx].shape, generator=gen)) * scale
        z0 = torch.where(backwards.view(-1, 1, 1, 1, 1), z0.flip(1), z0)  # (B, F, C, H, W)
        z0 = z0.permute(0, 2, 1, 3, 4)  # (B, C, F, H, W)
        t = torch.randint(0, 1000, (batch,), generator=gen)
        if args.high_noise:  # the noisier half, where a clip's motion is decided
            t = torch.where(torch.rand(batch, generator=gen) < args.high_noise, 500 + t // 2, t)
        noise = correlated_noise(z0.shape, gen, args.noise_correlation)
        a = alphas[t].view(-1, 1, 1, 1, 1)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        v = a.sqrt() * noise - (1 - a).sqrt() * z0
        k5 = known.view(batch, 1, FRAMES, 1, 1)
        zt = torch.where(k5, z0, zt)  # given frames enter clean
        per_clip, states = clip_losses(unet, text_encoder, ids, zt, t, v, z0, known, args)
        weight = torch.ones(batch)
        if args.min_snr:  # the image recipe's Min-SNR weights (stage 1 of the shipped run)
            snr = alphas[t] / (1 - alphas[t])
            weight = torch.clamp(snr, max=args.min_snr) / (snr + 1)
        loss = main = (weight * per_clip).mean()
        mirrored = mirrored_captions(captions, shown, known) if args.direction_contrast else []
        if mirrored:  # the true direction's caption must denoise the clip better than the mirror's
            rows = torch.tensor([b for b, _ in mirrored])
            mirror_ids = tokenizer(
                [c for _, c in mirrored],
                padding="max_length",
                max_length=32,
                truncation=True,
                return_tensors="pt",
            ).input_ids
            true = per_clip[rows]
            other, _ = clip_losses(
                unet,
                text_encoder,
                mirror_ids,
                zt[rows],
                t[rows],
                v[rows],
                z0[rows],
                known[rows],
                args,
            )
            temperature = args.contrast_temperature * ((true + other) / 2).detach()
            loss = loss + args.direction_contrast * F.softplus((true - other) / temperature).mean()
            preferred.extend((true < other).tolist())
        said = [b for b, caption in enumerate(captions) if caption] if args.text_probe else []
        if said:  # --text-probe: the caption's mean state must name its motion
            labels = torch.tensor([MOTIONS.index(shown[b][1]) for b in said])
            probe, right = probe_loss(probe_head, states[said], labels)
            loss = loss + args.text_probe * probe
            named.extend(right[[shown[b][1] in SLIDES for b in said]].tolist())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for g in opt.param_groups:
            g["lr"] = learning_rate(g["base_lr"], step, steps)
        opt.step()
        update_ema(((unet, ema_unet), (text_encoder, ema_text)), step, args.ema)
        log(step, steps, loss=main.item(), preferred=preferred, named=named)
        if args.checkpoint_every and (step + 1) % args.checkpoint_every == 0 and step + 1 < steps:
            save(ema_unet, ema_text, f"step {step + 1}")
    return ema_unet, ema_text


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clips", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--batch", type=int, default=8, help="clips per step")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument(
        "--noise-correlation",
        type=float,
        default=0.5,
        help="share of the noise variance common to all frames",
    )
    ap.add_argument(
        "--min-snr", type=float, default=0.0, help="Min-SNR-gamma loss weights (0: plain loss)"
    )
    ap.add_argument(
        "--motion-weight",
        type=float,
        default=0.0,
        help="extra loss weight on latent pixels that change over the clip (0: off)",
    )
    ap.add_argument(
        "--motion-lr",
        type=float,
        default=None,
        help="learning rate of the temporal modules (default: --lr)",
    )
    ap.add_argument(
        "--freeze-spatial",
        action="store_true",
        help="train only the temporal modules (and the text encoder)",
    )
    ap.add_argument(
        "--text-share",
        type=float,
        default=0.30,
        help="share of clips with no frame given (text to video)",
    )
    ap.add_argument(
        "--reach",
        type=int,
        default=None,
        help="neighbourhood motion attention of this radius (cinedraft/builtin/reach.py); "
        "default: what --resume finds, else none",
    )
    ap.add_argument(
        "--reach-text",
        action="store_true",
        help="the reach layers also read the prompt (a zero-initialised cross-attention)",
    )
    ap.add_argument(
        "--reach-steer",
        action="store_true",
        help="the prompt the reach layers read also chooses their offsets "
        "(a zero-initialised gain per head; needs --reach-text)",
    )
    ap.add_argument(
        "--reach-route",
        type=int,
        default=0,
        metavar="RANK",
        help="the prompt also biases each frame's reach offsets directly, through a "
        "rank-RANK map from its tokens pooled by a learned query (zero-initialised; "
        "needs --reach-text)",
    )
    ap.add_argument(
        "--reverse-share",
        type=float,
        default=0.0,
        help="share of slides and zooms played backwards with the mirrored caption "
        "(never making a held-out pair)",
    )
    ap.add_argument(
        "--direction-contrast",
        type=float,
        default=0.0,
        help="weight of a loss that makes each slide's or zoom's caption denoise its "
        "clip better than the mirrored caption (0: off)",
    )
    ap.add_argument(
        "--contrast-temperature",
        type=float,
        default=0.05,
        help="loss gap, as a share of the clip's loss, worth one unit of log-odds",
    )
    ap.add_argument(
        "--text-probe",
        type=float,
        default=0.0,
        help="weight of a loss that makes the mean of each caption's text states name "
        "its motion, direction included (a cosine classifier, not saved; 0: off)",
    )
    ap.add_argument(
        "--free-starts",
        type=float,
        default=0.0,
        help="share of slides that start anywhere, not only where there is room, "
        "so the object's place does not give its direction away",
    )
    ap.add_argument(
        "--unplaced-slides",
        type=float,
        default=0.0,
        help="share of slide captions without a position word, so the direction "
        "word is the caption's only side word",
    )
    ap.add_argument(
        "--high-noise",
        type=float,
        default=0.0,
        help="share of clips whose timestep is drawn from the noisier half",
    )
    ap.add_argument(
        "--reach-lr", type=float, default=1e-2, help="learning rate of the reach offsets and biases"
    )
    ap.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast: ~1.3x faster on CPUs with AMX, ~1.5x slower on "
        "CPUs with only AVX512-BF16 (check lscpu for amx_bf16)",
    )
    ap.add_argument("--checkpoint-every", type=int, default=150)
    ap.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="also copy each checkpoint to <out>-step<N>, to measure them later",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="tiny run to check the recipe")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="continue from the motion UNet and text encoder saved in --out",
    )
    args = ap.parse_args()
    if args.quick:
        args.clips, args.steps, args.checkpoint_every = 32, 4, 0

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.time()
    losses: list[float] = []

    def log(step, steps, loss, preferred, named):
        losses.append(loss)
        if step % 10 == 0 or step == steps - 1:
            per = (time.time() - t_train) / (step + 1)
            contrast = f" true<mirror {np.mean(preferred[-80:]):.2f}" if preferred else ""
            contrast += f" slides named {np.mean(named[-80:]):.2f}" if named else ""
            print(
                f"[motion] {step + 1}/{steps} loss={np.mean(losses[-10:]):.4f}{contrast} "
                f"{per:.2f}s/step eta {per * (steps - step - 1) / 60:.1f} min",
                flush=True,
            )

    # 1. Clips.
    items, clips = render_dataset(args.clips, args.seed, args.free_starts)
    print(f"rendered {len(clips)} clips in {time.time() - started:.1f}s", flush=True)
    # 2. Latents from the image model's VAE.
    vae = AutoencoderKL.from_pretrained(IMAGE_MODEL / "vae", dtype=torch.float32)
    vae.requires_grad_(False)
    means, stds = encode_dataset(vae, clips)
    scale = float(vae.config.scaling_factor)
    print(f"encoded in {time.time() - started:.1f}s", flush=True)
    # 3. Tokenizer and text encoder.
    old_tok = CLIPTokenizer.from_pretrained(IMAGE_MODEL / "tokenizer")
    tokenizer = build_tokenizer(motion_words())
    text_encoder = build_text_encoder(old_tok, tokenizer)
    # 4. Motion UNet from the image UNet plus zero-initialised temporal modules.
    image_unet = UNet2DConditionModel.from_pretrained(IMAGE_MODEL / "unet", dtype=torch.float32)
    adapter = MotionAdapter(
        block_out_channels=tuple(image_unet.config.block_out_channels),
        motion_layers_per_block=image_unet.config.layers_per_block,
        motion_mid_block_layers_per_block=1,
        motion_num_attention_heads=4,
        motion_norm_num_groups=32,
        motion_max_seq_length=64,
        use_motion_mid_block=True,
    )
    unet = UNetMotionModel.from_unet2d(image_unet, adapter)
    if args.resume:
        unet = UNetMotionModel.from_pretrained(args.out / "unet", dtype=torch.float32)
        text_encoder = CLIPTextModel.from_pretrained(args.out / "text_encoder", dtype=torch.float32)
        args.seed += 1000  # fresh batches (a different --seed gives others again)
        if reach.load(unet, args.out / "unet"):
            saved = reach.config(unet)
            args.reach, args.reach_text = saved.radius, bool(saved.text_dim)
            args.reach_steer = args.reach_steer or saved.steer
            args.reach_route = args.reach_route or saved.route
    if (args.reach_steer or args.reach_route) and not (args.reach and args.reach_text):
        ap.error(
            "--reach-steer and --reach-route need reach that reads the prompt "
            "(--reach R --reach-text, or --resume from such a model)"
        )
    if args.reach and not reach.config(unet).radius:
        reach.install(
            unet,
            args.reach,
            unet.config.cross_attention_dim if args.reach_text else 0,
            steer=args.reach_steer,
            route=args.reach_route,
        )
    installed = reach.config(unet)
    if (args.reach_steer and not installed.steer) or args.reach_route != installed.route:
        try:  # resumed without them
            reach.extend(unet, steer=args.reach_steer, route=args.reach_route)
        except ValueError as exc:
            ap.error(str(exc))
    sizes = {
        "unet": sum(p.numel() for p in unet.parameters()),
        "motion_modules": sum(p.numel() for p in adapter.parameters()),
        "text_encoder": sum(p.numel() for p in text_encoder.parameters()),
    }
    print("parameters:", sizes, flush=True)

    def save(unet_w, text_w, tag):
        pipe = AnimateDiffPipeline(
            vae=vae,
            text_encoder=text_w,
            tokenizer=tokenizer,
            unet=unet_w,
            motion_adapter=None,
            scheduler=DPMSolverMultistepScheduler(**SCHEDULE),
        )
        with reach.set_aside(unet_w):
            pipe.to(torch.float16).save_pretrained(args.out, safe_serialization=True)
        pipe.to(torch.float32)
        if args.reach:
            reach.save(unet_w, args.out / "unet")
        report = {
            "seed": args.seed,
            "clips": args.clips,
            "frames": FRAMES,
            "steps": args.steps,
            "resumed": args.resume,
            "noise_correlation": args.noise_correlation,
            "motion_weight": args.motion_weight,
            "text_share": args.text_share,
            "motion_lr": args.motion_lr,
            "freeze_spatial": args.freeze_spatial,
            "reach": args.reach,
            "reach_text": args.reach_text,
            "reach_steer": args.reach_steer,
            "reach_route": args.reach_route,
            "reach_lr": args.reach_lr,
            "high_noise": args.high_noise,
            "free_starts": args.free_starts,
            "unplaced_slides": args.unplaced_slides,
            "reverse_share": args.reverse_share,
            "bf16": args.bf16,
            "direction_contrast": args.direction_contrast,
            "contrast_temperature": args.contrast_temperature,
            "text_probe": args.text_probe,
            "batch": args.batch,
            "lr": args.lr,
            "ema": args.ema,
            "saved_at": tag,
            "parameters": sizes,
            "torch_threads": args.threads,
            "total_minutes": round((time.time() - started) / 60, 1),
            "final_loss": float(np.mean(losses[-50:])) if losses else None,
        }
        (args.out / "training.json").write_text(json.dumps(report, indent=2) + "\n")
        # the losses so far, so a kept checkpoint holds its own, not the resumed model's
        np.save(args.out / "loss_motion.npy", np.array(losses, np.float32))
        (args.out / "cinedraft.json").write_text(json.dumps({"family": "builtin-video"}) + "\n")
        if args.keep_checkpoints and tag.startswith("step "):
            kept = args.out.with_name(f"{args.out.name}-step{tag.split()[1]}")
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(args.out, kept)
        print(f"saved {args.out} ({tag})", flush=True)

    t_train = time.time()
    ema_unet, ema_text = train(
        unet, text_encoder, tokenizer, items, means, stds, args, log, scale, save
    )
    # 5. Save.
    save(ema_unet, ema_text, "final")


if __name__ == "__main__":
    main()
