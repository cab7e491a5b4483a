"""The CLIP tokenizers Stable Diffusion checkpoints were trained with, built offline.

A single-file checkpoint holds the text encoders' weights but not their tokenizers. OpenAI's
CLIP vocabulary (49,408 tokens: the 256 byte symbols, the same with a word end, 48,894 BPE
merges, and the two special tokens) is published as ``bpe_simple_vocab_16e6.txt.gz`` inside
the ``open_clip_torch`` package; the tokenizers are built from that file, in the order CLIP
numbers its tokens, so their ids are exactly those of ``openai/clip-vit-large-patch14``.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

from transformers import CLIPTokenizer

from ..errors import ModelError

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MERGES = 49152 - 256 - 2  # CLIP keeps this many merges of the file (its vocabulary size)
MAX_LENGTH = 77
VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
INSTALL = "pip install --no-deps open_clip_torch==3.3.0"


def byte_alphabet() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes, in byte order, as CLIP and the ByteLevel
    pre-tokenizer use them."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    codes = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def vocab_file() -> Path:
    """The published vocabulary file, found without importing ``open_clip`` (its import pulls
    torchvision, which cinedraft does not need)."""
    spec = importlib.util.find_spec("open_clip")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / VOCAB_FILE
        if path.is_file():
            return path
    raise ModelError(
        f"single-file checkpoints need the CLIP vocabulary ({VOCAB_FILE}) from the "
        f"open_clip_torch package; install it with: {INSTALL}"
    )


@lru_cache(maxsize=2)
def clip_tokenizer(pad_token: str = EOS) -> CLIPTokenizer:
    """CLIP's tokenizer. ``pad_token``: ``<|endoftext|>`` for OpenAI's CLIP (SD 1.x, SDXL's
    first encoder), ``!`` for OpenCLIP's (SD 2.x, SDXL's second encoder)."""
    lines = gzip.decompress(vocab_file().read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : MERGES + 1]]
    alphabet = byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + [BOS, EOS]
    vocab = {token: i for i, token in enumerate(tokens)}
    return CLIPTokenizer(
        vocab=vocab, merges=merges, pad_token=pad_token, model_max_length=MAX_LENGTH
    )
