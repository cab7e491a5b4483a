"""A CLIP tokenizer built offline for the built-in models' small vocabulary.

It is a real :class:`transformers.CLIPTokenizer` (byte-level BPE, ``</w>`` word ends), so the
built-in pipelines load and run exactly like Stable Diffusion ones. Its merges are learned
here, by plain BPE (Sennrich et al., 2016), from the caption grammar's words, so every grammar
word is one token; any other text still tokenizes, byte by byte.
"""

from __future__ import annotations

from collections import Counter

from transformers import CLIPTokenizer

from cinedraft.engine.clip_vocab import BOS, EOS, byte_alphabet


def learn_merges(words: list[str]) -> list[tuple[str, str]]:
    """BPE merges, most frequent pair first, until every word is a single symbol."""
    seqs = [list(w[:-1]) + [w[-1] + "</w>"] for w in sorted(set(words)) if w]
    merges: list[tuple[str, str]] = []
    while True:
        pairs = Counter(p for s in seqs for p in zip(s, s[1:]))
        if not pairs:
            return merges
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        joined = best[0] + best[1]
        for i, s in enumerate(seqs):
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and (s[j], s[j + 1]) == best:
                    out.append(joined)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out


def build_tokenizer(words: list[str], max_length: int = 32) -> CLIPTokenizer:
    """A CLIP tokenizer whose vocabulary is the byte alphabet plus ``words`` as whole tokens."""
    alphabet = byte_alphabet()
    vocab: dict[str, int] = {}
    for token in alphabet + [c + "</w>" for c in alphabet]:
        vocab.setdefault(token, len(vocab))
    merges = learn_merges([w.lower() for w in words])
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab[BOS] = len(vocab)
    vocab[EOS] = len(vocab)
    return CLIPTokenizer(
        vocab=vocab,
        merges=merges,
        model_max_length=max_length,
    )
