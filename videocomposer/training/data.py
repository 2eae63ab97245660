"""Training data: annotation files, a seeded resumable sampler, and the per-clip dataset.

Annotations (the MindSpore port's formats) live in ``root_dir``:

* every ``*.csv`` with columns ``video`` and ``caption`` (the video path relative to ``root_dir``;
  captions holding commas are double-quoted), read in file-name order and concatenated; or
* when any ``*.json`` exists, only the JSON files: ``{"<dataset>": [["rel/path.mp4", "caption"], ...]}``.

Randomness is keyed, never drawn from a shared stream: the clip start, mask and resize choices of a
sample come from ``(seed, epoch, index)``, so the batches do not depend on the number of workers, on
which worker loads which clip, or on whether the run was resumed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ..conditions import clip_streams
from ..video.motion import MotionSettings
from ..video.sampling import load_video_clip

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("video", "caption")
#: Other clips tried (deterministically) in place of a broken one before giving up.
MAX_REPLACEMENTS = 16


@dataclass(frozen=True)
class Annotation:
    """One training clip: the video file, its caption, and where the row was read (``file:line``)."""

    video: Path
    caption: str
    source: str


def keyed_seed(*parts: Any) -> int:
    """A 32-bit seed derived from ``parts`` (stable across processes and Python versions; 32 bits because
    numpy's legacy ``RandomState`` takes no more)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=4).digest(), "little")


# ---------------------------------------------------------------------------------------------
# Annotation files
# ---------------------------------------------------------------------------------------------


class AnnotationError(ValueError):
    """An annotation file cannot be read as one of the formats of the module docstring (the message names the file,
    the line or entry, and what was expected)."""


def _video_file(root: Path, video: str, where: str) -> Path:
    """``root / video``, refusing a value that names a folder rather than a file (``/``, ``.``, ``clips/..``)."""
    if Path(video).name in ("", ".", ".."):
        raise AnnotationError(f"{where}: the video {video!r} names a folder, not a video file")
    return root / video


def _read_csv(path: Path, root: Path) -> list[Annotation]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise AnnotationError(
                f"annotation file {path}: missing column(s) {missing}; found columns {columns}. Expected a header "
                f"line 'video,caption' (video paths relative to {root}; quote captions that contain commas)"
            )
        reader.fieldnames = columns
        rows = []
        for row in reader:
            line = reader.line_num
            video = (row.get("video") or "").strip()
            if not video:
                raise AnnotationError(f"annotation file {path}, line {line}: empty 'video' value")
            video_file = _video_file(root, video, f"annotation file {path}, line {line}")
            rows.append(Annotation(video_file, (row.get("caption") or "").strip(), f"{path.name}:{line}"))
    return rows


def _read_json(path: Path, root: Path) -> list[Annotation]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise AnnotationError(f"annotation file {path}: not valid JSON ({exc})") from None
    if not isinstance(content, dict):
        raise AnnotationError(f'annotation file {path}: expected {{"<dataset>": [["video path", "caption"], ...]}}')
    rows = []
    for name, entries in content.items():
        if not isinstance(entries, list):
            raise AnnotationError(f"annotation file {path}: dataset {name!r} must be a list of [video, caption] pairs")
        for i, entry in enumerate(entries):
            if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and all(isinstance(e, str) for e in entry)):
                raise AnnotationError(
                    f'annotation file {path}: {name}[{i}] must be ["video path", "caption"], got {entry!r}'
                )
            if not entry[0].strip():
                raise AnnotationError(f"annotation file {path}: {name}[{i}] has an empty video path")
            video_file = _video_file(root, entry[0].strip(), f"annotation file {path}: {name}[{i}]")
            rows.append(Annotation(video_file, entry[1].strip(), f"{path.name}:{name}[{i}]"))
    return rows


def read_annotation_file(path: str | os.PathLike, root: str | os.PathLike) -> list[Annotation]:
    """The rows of one annotation file (``.json``, else CSV), video paths relative to ``root`` (not checked here).

    Raises:
        AnnotationError: the file is not UTF-8 text, or not in its format (the message names the file and the line
            or entry).
    """
    path, root = Path(path), Path(root)
    try:
        return _read_json(path, root) if path.suffix == ".json" else _read_csv(path, root)
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"annotation file {path}: not UTF-8 text ({exc})") from None
    except csv.Error as exc:
        raise AnnotationError(
            f"annotation file {path}: not valid CSV ({exc}); expected a 'video,caption' table"
        ) from None


def read_annotations(root_dir: str | os.PathLike, skip_missing_videos: bool = False) -> list[Annotation]:
    """Every annotated clip under ``root_dir`` (see the module docstring for the formats).

    Raises:
        FileNotFoundError: ``root_dir`` does not exist or holds no annotation file; or rows name video
            files that do not exist (all listed by count, the first ones by row) unless ``skip_missing_videos``,
            which drops them with a warning.
        AnnotationError: a file lacks the ``video``/``caption`` columns, has an empty video cell, or is malformed.
    """
    root = Path(root_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"root_dir: dataset folder not found: {root}")
    json_files = sorted(root.glob("*.json"))
    files = json_files or sorted(root.glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"root_dir: no annotation file (*.csv with columns video,caption, or *.json) in {root}")
    rows = [row for f in files for row in read_annotation_file(f, root)]
    missing = [row for row in rows if not row.video.is_file()]
    if missing:
        listing = "\n".join(f"  {row.source}: {row.video}" for row in missing[:10])
        more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
        if not skip_missing_videos:
            raise FileNotFoundError(
                f"{len(missing)} of {len(rows)} annotated videos do not exist (paths are relative to {root}):\n"
                f"{listing}{more}\nfix the annotations, or set skip_missing_videos=true to train without them"
            )
        log.warning(
            "skipping %d of %d annotated videos that do not exist:\n%s%s", len(missing), len(rows), listing, more
        )
        rows = [row for row in rows if row.video.is_file()]
    if not rows:
        raise AnnotationError(
            f"root_dir: the annotations in {root} list no usable video ({', '.join(f.name for f in files)})"
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Sampler: epochs of shuffled, rank-sharded micro-batches that can start mid-epoch
# ---------------------------------------------------------------------------------------------


class EpochBatchSampler:
    """Yields micro-batches ``[(epoch, index), ...]`` of ``batch_size`` dataset indices, forever.

    Each epoch is a permutation seeded by ``(seed, epoch)`` (identity without ``shuffle``), trimmed to a
    multiple of ``world_size · batch_size`` and dealt round-robin to the ranks (the remainder is dropped,
    as the port does). ``start`` = ``(epoch, batch)`` resumes at that position.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        start: tuple[int, int] = (0, 0),
    ):
        self.num_samples, self.batch_size, self.seed, self.shuffle = num_samples, batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        if self.batches_per_epoch < 1:
            raise ValueError(
                f"batch_size: {num_samples} clips cannot fill one batch of {batch_size} on each of {world_size} "
                f"process(es); lower batch_size or add clips"
            )
        self.start = start

    @property
    def batches_per_epoch(self) -> int:
        return self.num_samples // (self.world_size * self.batch_size)

    def epoch_indices(self, epoch: int) -> list[int]:
        """This rank's dataset indices for ``epoch``, in order."""
        if self.shuffle:
            gen = torch.Generator().manual_seed(keyed_seed("epoch-order", self.seed, epoch))
            order = torch.randperm(self.num_samples, generator=gen).tolist()
        else:
            order = list(range(self.num_samples))
        used = self.batches_per_epoch * self.batch_size * self.world_size
        return order[:used][self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, batch = self.start
        while True:
            indices = self.epoch_indices(epoch)
            for b in range(batch, self.batches_per_epoch):
                yield [(epoch, i) for i in indices[b * self.batch_size : (b + 1) * self.batch_size]]
            epoch, batch = epoch + 1, 0


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------

ClipLoader = Callable[[Annotation, int], dict[str, torch.Tensor]]


class VideoCaptionDataset(Dataset):
    """``dataset[(epoch, index)]`` → one processed clip as a dict.

    Keys: ``caption`` (str), ``epoch``/``index`` (int, the slot asked for, which keys the noise), ``broken``
    (``[{"video": path, "error": message}, ...]`` for clips that failed and were replaced), and the tensors
    ``load_clip`` returns (see :class:`ClipLoaderSpec`).

    A clip that fails to load is logged and replaced by another clip chosen deterministically from
    ``(epoch, index, attempt)``; the failure travels with the sample so the trainer counts it. After
    :data:`MAX_REPLACEMENTS` consecutive failures a ``RuntimeError`` lists them.
    """

    def __init__(self, annotations: Sequence[Annotation], load_clip: ClipLoader, seed: int):
        self.annotations = list(annotations)
        self.load_clip = load_clip
        self.seed = seed

    def __len__(self) -> int:
        return len(self.annotations)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        epoch, index = key
        broken: list[dict[str, str]] = []
        current = index
        for attempt in range(MAX_REPLACEMENTS + 1):
            row = self.annotations[current]
            try:
                sample = self.load_clip(row, keyed_seed("clip", self.seed, epoch, current))
            except Exception as exc:  # a broken file must not stop a long run: skip it, loudly
                message = f"{row.video} ({row.source}): {type(exc).__name__}: {exc}"
                log.warning("skipping broken video %s", message)
                broken.append({"video": str(row.video), "error": message})
                gen = torch.Generator().manual_seed(keyed_seed("replace", self.seed, epoch, index, attempt))
                current = int(torch.randint(len(self.annotations), (1,), generator=gen))
                continue
            sample.update(caption=row.caption, epoch=epoch, index=index, broken=broken)
            return sample
        raise RuntimeError(
            f"{len(broken)} videos in a row failed to load; the last ones:\n  "
            + "\n  ".join(b["error"] for b in broken[-5:])
        )


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors along a new batch dim; other values become lists (``broken`` is flattened)."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if key == "broken":
            out[key] = [b for v in values for b in v]
        elif isinstance(values[0], torch.Tensor):
            out[key] = torch.stack(values)
        else:
            out[key] = values
    return out


# ---------------------------------------------------------------------------------------------
# Per-clip processing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipLoaderSpec:
    """Picklable clip loader for DataLoader workers: the reference's per-sample processing through
    :func:`~videocomposer.video.sampling.load_video_clip` (MPEG-4 re-encode, motion vectors, I-frame
    start, resize-then-crop frames, misc frames, CLIP middle frame, mask), keeping only the streams the
    trained conditions need. Returns ``video`` ``[F, 3, R, R]`` in [-1, 1] plus, as needed, ``misc``
    ``[F or 1, 3, M, M]`` in [0, 1], ``motion`` ``[F, 2, R, R]``, ``vit_image`` ``[3, 224, 224]``,
    ``mask`` ``[F, 1, M, M]``. ``motion_settings``: how the motion condition is made
    (:class:`~videocomposer.video.motion.MotionSettings`; None: the reference's way).
    """

    conditions: tuple[str, ...]
    num_frames: int
    resolution: int
    misc_size: int
    feature_framerate: int
    motion_settings: MotionSettings | None = None

    def __call__(self, row: Annotation, seed: int) -> dict[str, torch.Tensor]:
        streams = clip_streams(self.conditions)  # misc, misc_first (frame 0 only), motion, vit_image, mask
        clip = load_video_clip(
            row.video,
            self.num_frames,
            self.resolution,
            self.misc_size,
            self.feature_framerate,
            seed=seed,
            with_mask="mask" in streams,
            motion_settings=self.motion_settings,
        )
        out = {"video": clip.video}
        if "misc_first" in streams:
            out["misc"] = clip.misc[:1]
        out.update({s: getattr(clip, s) for s in ("misc", "motion", "vit_image", "mask") if s in streams})
        return out
