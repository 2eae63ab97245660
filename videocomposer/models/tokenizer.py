"""CLIP byte-level BPE tokenizer, reading OpenAI CLIP's vocabulary file.

Reproduces ``open_clip.tokenize`` (the tokenizer VideoComposer's text embedder calls):

* the caption is cleaned first: ``ftfy.fix_text``, ``html.unescape`` twice, whitespace runs
  collapsed to one space and stripped, lower-cased;
* it is split with CLIP's regular expression (contractions, letter runs, single digits, runs of
  other symbols), each piece is mapped byte-wise to printable characters and merged with BPE;
* every row is ``[SOT] tokens... [EOT]`` padded with 0 to ``context_length`` (77); a longer row
  is cut to ``context_length`` and its last token forced to EOT.

The vocabulary ``bpe_simple_vocab_16e6.txt.gz`` ships beside this module
(see ``THIRD_PARTY_NOTICES.md``): 256 byte symbols, the same 256 with the end-of-word mark
``</w>``, 48,894 merges, then ``<start_of_text>`` (49406) and ``<end_of_text>`` (49407).
"""

from __future__ import annotations

import gzip
import html
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import ftfy
import regex
import torch

DEFAULT_VOCAB_PATH = Path(__file__).with_name("bpe_simple_vocab_16e6.txt.gz")
DEFAULT_CONTEXT_LENGTH = 77
VOCAB_SIZE = 49408
SOT_TEXT, EOT_TEXT = "<start_of_text>", "<end_of_text>"
PAD_TOKEN_ID = 0
_END_OF_WORD = "</w>"
# CLIP's pre-tokenizer; the special tokens come first so that a literal "<end_of_text>" in a
# caption becomes that special token, as in open_clip.
_PIECES = regex.compile(
    rf"{SOT_TEXT}|{EOT_TEXT}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+", regex.IGNORECASE
)


def clean_caption(text: str) -> str:
    """Clean a caption exactly as open_clip does before tokenizing.

    Mojibake and other unicode damage fixed by ``ftfy.fix_text``, HTML entities decoded (twice,
    so ``&amp;amp;`` becomes ``&``), whitespace collapsed to single spaces and stripped, lower-cased.
    """
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).lower()


@lru_cache(maxsize=1)
def _byte_symbols() -> tuple[tuple[int, str], ...]:
    """``(byte, symbol)`` pairs in vocabulary order: the printable character standing for each byte.

    Printable Latin-1 bytes (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) come first and stand for
    themselves; the remaining 68 bytes (controls, space, soft hyphen, ...) follow in byte order and
    get the characters from U+0100 upwards (the GPT-2 / CLIP convention).
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in set(printable)]
    return (*((b, chr(b)) for b in printable), *((b, chr(256 + n)) for n, b in enumerate(others)))


class CLIPTokenizer:
    """Byte-level BPE tokenizer of OpenAI CLIP / OpenCLIP.

    Args:
        vocab_path: the gzipped merges file (default: the copy shipped with this package).
        context_length: row length of :meth:`__call__`'s output (77 for every CLIP model).
    """

    def __init__(
        self, vocab_path: str | os.PathLike = DEFAULT_VOCAB_PATH, context_length: int = DEFAULT_CONTEXT_LENGTH
    ):
        vocab_path = Path(vocab_path)
        if not vocab_path.is_file():
            raise FileNotFoundError(
                f"CLIP BPE vocabulary not found: {vocab_path} (expected the gzipped merges file "
                f"'bpe_simple_vocab_16e6.txt.gz' shipped in videocomposer/models/)"
            )
        self.context_length = _check_context_length(context_length)
        byte_symbols = _byte_symbols()
        symbols = [s for _, s in byte_symbols]
        n_merges = VOCAB_SIZE - 2 * len(symbols) - 2
        with gzip.open(vocab_path, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")[1 : n_merges + 1]  # line 0 is a version header
        merges = [tuple(line.split()) for line in lines]
        if len(merges) != n_merges or any(len(m) != 2 for m in merges):
            raise ValueError(
                f"{vocab_path} is not CLIP's BPE vocabulary: expected {n_merges} merge lines of two symbols"
            )
        tokens = [*symbols, *(s + _END_OF_WORD for s in symbols), *("".join(m) for m in merges), SOT_TEXT, EOT_TEXT]
        self.token_to_id: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.id_to_token: list[str] = tokens
        self.merge_rank: dict[tuple[str, str], int] = {m: r for r, m in enumerate(merges)}
        self.byte_to_symbol = dict(byte_symbols)
        self.symbol_to_byte = {s: b for b, s in byte_symbols}
        self.sot_token_id = self.token_to_id[SOT_TEXT]
        self.eot_token_id = self.token_to_id[EOT_TEXT]
        self.pad_token_id = PAD_TOKEN_ID
        self._word_cache: dict[str, tuple[int, ...]] = {SOT_TEXT: (self.sot_token_id,), EOT_TEXT: (self.eot_token_id,)}

    @property
    def vocab_size(self) -> int:
        return len(self.id_to_token)

    def _bpe(self, piece: str) -> tuple[int, ...]:
        """Token ids of one pre-tokenized piece (already mapped to byte symbols)."""
        cached = self._word_cache.get(piece)
        if cached is not None:
            return cached
        word = [*piece[:-1], piece[-1] + _END_OF_WORD]
        while len(word) > 1:
            ranked = [(self.merge_rank.get(pair, len(self.merge_rank)), pair) for pair in zip(word, word[1:])]
            rank, (first, second) = min(ranked)
            if rank == len(self.merge_rank):
                break  # no known merge left
            merged: list[str] = []
            i = 0
            while i < len(word):  # merge every occurrence, left to right, without overlap
                if i + 1 < len(word) and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        ids = tuple(self.token_to_id[w] for w in word)
        self._word_cache[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of one caption, cleaned, without SOT/EOT and without truncation."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}: {text!r}")
        ids: list[int] = []
        for piece in _PIECES.findall(clean_caption(text)):
            ids.extend(self._bpe("".join(self.byte_to_symbol[b] for b in piece.encode("utf-8"))))
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Text of token ids (special and padding ids dropped); words separated by single spaces."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        specials = {self.sot_token_id, self.eot_token_id, self.pad_token_id}
        symbols = "".join(self.id_to_token[i] for i in ids if i not in specials).replace(_END_OF_WORD, " ")
        raw = bytes(ord(" ") if s == " " else self.symbol_to_byte[s] for s in symbols)
        return raw.decode("utf-8", errors="replace").strip()

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> torch.Tensor:
        """Tokenize captions into ``[B, context_length]`` int64 ids (SOT … EOT, then 0 padding).

        A caption longer than ``context_length − 2`` tokens is truncated to ``context_length``
        ids with the last id set to EOT (49407).
        """
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"texts must be a str or a sequence of str, got {texts!r}")
        length = self.context_length if context_length is None else _check_context_length(context_length)
        out = torch.full((len(texts), length), self.pad_token_id, dtype=torch.int64)
        for row, text in enumerate(texts):
            ids = [self.sot_token_id, *self.encode(text), self.eot_token_id]
            if len(ids) > length:
                ids = ids[: length - 1] + [self.eot_token_id]
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
        return out


def _check_context_length(context_length: int) -> int:
    if not isinstance(context_length, int) or isinstance(context_length, bool) or context_length < 2:
        raise ValueError(f"context_length must be an int >= 2 (room for SOT and EOT), got {context_length!r}")
    return context_length


@lru_cache(maxsize=1)
def default_tokenizer() -> CLIPTokenizer:
    """The shared tokenizer with the packaged vocabulary (built once, ~0.5 s)."""
    return CLIPTokenizer()


def tokenize(texts: str | Sequence[str], context_length: int = DEFAULT_CONTEXT_LENGTH) -> torch.Tensor:
    """``open_clip.tokenize``: captions → ``[B, context_length]`` int64 token ids."""
    return default_tokenizer()(texts, context_length)
