"""The condition cache: what the frozen networks make of each training clip, computed once.

Every training step otherwise re-runs the frozen encoders on data that never changes: the VAE encode of
the frames, the CLIP text and image towers, the MPEG-4 re-encode and motion-vector decode. The cache
(``videocomposer extract --dataset ROOT --cache DIR --config TASK``) stores their outputs; training
(``condition_cache=DIR``) reads an entry when it exists and extracts online what is missing.

**Random choices stay per epoch, exactly as online.** A clip's random draws come from its keyed seed
``(seed, epoch, index)``: first the start I-frame (numpy), then one misc-resize interpolation per frame
(Python), then the mask. The cache is filled *per candidate start*: every I-frame a clip may start at
gets an entry, and the first misc frame (the ``misc_first`` stream) is stored under each of the three
interpolations. At training time the loader makes the same draws from the same seed, from the stored
frame types, and picks the matching entry and interpolation, so a cached batch is bit-identical to the
online one.

**What is cached** follows the condition registry (:func:`cache_plan`): the output of each condition
flagged ``cached_output`` (once per caption when it reads no clip stream, such as the text; once per
clip start otherwise, such as the style embedding), and the clip streams of :data:`CACHED_STREAMS` that
the other conditions read; those conditions are extracted while training from a clip rebuilt from the
stored streams. What depends on every frame's interpolation or on the mask (the ``misc`` and ``mask``
streams) is not cached: for tasks reading those, the loader still decodes the clip and the annotators
run online, while the VAE, CLIP and stored streams come from the cache.

**Keys.** An entry's file name is a hash of the video's *content* (not its path) and the cache
fingerprint: clip length, resolution, misc size, frame rate, the cached items, chunk size, device type,
autocast precision, the torch version, the cache format, and a digest of the frozen networks' weights
(every tensor's names, shapes, float64 sum and first and last 1024 values — fast, and changed by any
fine-tuning). A changed parameter therefore never reads an old entry; it simply misses.

**Concurrency.** Every file is written under a unique temporary name in its final folder and renamed
into place (atomic on POSIX), so any number of processes — ``torchrun`` ranks, several ``extract``
commands, training writers — may fill one cache; a reader sees a whole entry or none.

Layout: ``DIR/videos/<hash>.json`` (the re-encoded stream's frame types), ``DIR/clips/<ab>/<hash>.safetensors``
(one clip start: ``posterior_mean`` / ``posterior_std`` ``[F, 4, h, w]``, the streams by name (the
motion field ``[F, 2, R, R]``, ``misc_first_<k>`` ``[1, 3, M, M]``) and the per-clip outputs by
condition name (the style embedding ``[1, 1, D]``)), ``DIR/text/<ab>/<hash>.safetensors`` (the
per-caption outputs by condition name: the text context ``[1, 77, D]``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from einops import rearrange
from safetensors.torch import load_file, save_file
from torch import nn

from ..conditions import CONDITIONS, models_needed, normalize_conditions
from ..video.clip import VideoClip
from ..video.sampling import (
    MISC_INTERPOLATIONS,
    choose_start_index,
    draw_misc_interpolations,
    load_video_clip,
    start_candidates,
)
from .data import Annotation, ClipLoaderSpec, collate

CACHE_FORMAT = 1
#: Clip streams stored per clip start: a start and frame 0's interpolation draw fix them (``misc_first`` is
#: stored under each interpolation). Every misc frame and the mask depend on further draws: not cached.
CACHED_STREAMS = ("motion", "misc_first")
#: Streams a per-clip-start output may read (those a start alone fixes).
CLIP_START_STREAMS = ("motion", "vit_image")
#: The decoded streams a clip still needs when some condition reads a stream the cache does not hold.
DECODED_STREAMS = ("video", "misc", "mask")


@dataclass(frozen=True)
class CachePlan:
    """What the cache holds for a task, from the condition registry (UNet names, registry order).

    Attributes:
        caption_outputs: conditions stored as outputs once per caption (``cached_output``, no clip stream).
        clip_outputs: conditions stored as outputs once per clip start (``cached_output``, reading clip streams).
        streams: the :data:`CACHED_STREAMS` the other conditions read.
        items: the per-clip-start entries besides the VAE posterior, in registry order (fingerprinted).
        decoded: whether some condition reads a stream the cache does not hold (the clip is then decoded too).
    """

    caption_outputs: tuple[str, ...]
    clip_outputs: tuple[str, ...]
    streams: tuple[str, ...]
    items: tuple[str, ...]
    decoded: bool


def cache_plan(conditions: Sequence[str]) -> CachePlan:
    """The :class:`CachePlan` of a task's conditions (any vocabulary)."""
    names = set(normalize_conditions(conditions))
    caption, outputs, streams, items, decoded = [], [], [], [], False
    for record in (c for c in CONDITIONS.values() if c.name in names):
        if record.cached_output and not record.clip_streams:
            caption.append(record.name)
        elif record.cached_output:
            if not set(record.clip_streams) <= set(CLIP_START_STREAMS):
                raise ValueError(
                    f"condition {record.name!r}: cached_output needs streams a clip start fixes "
                    f"{list(CLIP_START_STREAMS)}, but it reads {list(record.clip_streams)}"
                )
            outputs.append(record.name)
            items.append(record.name)
        else:
            stored = [s for s in record.clip_streams if s in CACHED_STREAMS]
            streams += stored
            items += stored
            decoded = decoded or len(stored) < len(record.clip_streams)
    clash = set(outputs) & set(streams)
    if clash:
        raise ValueError(
            f"condition(s) {sorted(clash)}: an output cached per clip start would share its entry's key with a stream"
        )
    return CachePlan(
        tuple(caption), tuple(outputs), tuple(dict.fromkeys(streams)), tuple(dict.fromkeys(items)), decoded
    )


def cached_items(conditions: Sequence[str]) -> tuple[str, ...]:
    """The per-clip tensors a task's cache entries hold (the VAE posterior, then :attr:`CachePlan.items`)."""
    return ("posterior", *cache_plan(conditions).items)


def weights_digest(module: nn.Module) -> str:
    """A digest of a network's weights: names, shapes, dtypes, float64 sums and the first/last 1024 values."""
    digest = hashlib.blake2b(digest_size=16)
    for name, value in sorted(module.state_dict().items()):
        flat = value.detach().reshape(-1).cpu()
        digest.update(f"{name}{tuple(value.shape)}{value.dtype}{float(flat.double().sum())!r}".encode())
        digest.update(flat[:1024].float().numpy().tobytes() + flat[-1024:].float().numpy().tobytes())
    return digest.hexdigest()


def cache_fingerprint(
    spec: ClipLoaderSpec, chunk_size: int, device_type: str, mixed_precision: str, networks: Mapping[str, nn.Module]
) -> str:
    """Everything besides the video content that changes a cached tensor, as one string."""
    values = {
        "format": CACHE_FORMAT,
        "frames": spec.num_frames,
        "resolution": spec.resolution,
        "misc_size": spec.misc_size,
        "fps": spec.feature_framerate,
        "items": cached_items(spec.conditions),
        "chunk_size": chunk_size,
        "device": device_type,
        "precision": mixed_precision,
        "torch": torch.__version__.split("+")[0],
        "weights": {name: weights_digest(net) for name, net in sorted(networks.items())},
        # the reference's motion (no entry, as caches written before the setting) or another mode's
        **({"motion": spec.motion_settings.to_dict()} if spec.motion_settings is not None else {}),
    }
    return json.dumps(values, sort_keys=True)


def _hash(*parts: Any) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()


_CONTENT_HASHES: dict[tuple[str, int, int], str] = {}


def content_hash(path: Path) -> str:
    """blake2b of the file's bytes (memoised per path, size and modification time in this process)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _CONTENT_HASHES:
        digest = hashlib.blake2b(digest_size=20)
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _CONTENT_HASHES[key] = digest.hexdigest()
    return _CONTENT_HASHES[key]


@dataclass(frozen=True)
class ConditionCache:
    """A cache folder and the fingerprint of the settings its entries must match (picklable for workers)."""

    root: Path
    fingerprint: str

    def _file(self, kind: str, key: str, suffix: str) -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def video_file(self, video_hash: str) -> Path:
        return self.root / "videos" / f"{_hash(video_hash, self.fingerprint)}.json"

    def clip_file(self, video_hash: str, start: int) -> Path:
        return self._file("clips", _hash(video_hash, start, self.fingerprint), ".safetensors")

    def text_file(self, caption: str) -> Path:
        return self._file("text", _hash(caption, self.fingerprint), ".safetensors")

    def frame_types(self, video_hash: str) -> str | None:
        path = self.video_file(video_hash)
        return json.loads(path.read_text())["frame_types"] if path.is_file() else None

    def read(self, path: Path) -> dict[str, torch.Tensor] | None:
        return load_file(str(path)) if path.is_file() else None

    def write_tensors(self, path: Path, tensors: Mapping[str, torch.Tensor]) -> None:
        _atomic_write(
            path,
            lambda tmp: save_file(
                {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                str(tmp),
                metadata={"fingerprint": self.fingerprint},
            ),
        )

    def write_frame_types(self, video_hash: str, frame_types: str, source: str) -> None:
        text = json.dumps({"frame_types": frame_types, "video": source})
        _atomic_write(self.video_file(video_hash), lambda tmp: tmp.write_text(text))

    def size(self) -> tuple[int, int]:
        """``(files, bytes)`` of every complete entry."""
        files = [p for p in self.root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]
        return len(files), sum(p.stat().st_size for p in files)


def _atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write via a unique temporary name in the same folder, flushed, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def describe_size(cache: ConditionCache) -> str:
    files, size = cache.size()
    return f"{files} files, {size / 2**20:.1f} MiB in {cache.root.absolute()}"


# ---------------------------------------------------------------------------------------------
# Reading: the loader of a training run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedClipLoader:
    """Drop-in for :class:`ClipLoaderSpec`: a clip whose entry (start, text) is cached comes back as
    ``cached_*`` tensors (plus the decoded :data:`DECODED_STREAMS` only when a condition reads a stream
    the cache does not hold); any miss loads the clip online exactly as without a cache."""

    spec: ClipLoaderSpec
    cache: ConditionCache

    def __call__(self, row: Annotation, seed: int) -> dict[str, torch.Tensor]:
        plan = cache_plan(self.spec.conditions)
        video_hash = content_hash(row.video)
        frame_types = self.cache.frame_types(video_hash)
        text = self.cache.read(self.cache.text_file(row.caption)) if plan.caption_outputs else {}
        if frame_types is None or text is None:
            return self.spec(row, seed)
        # the draws of load_video_clip, in its order, from the same seed
        start = choose_start_index(frame_types, self.spec.num_frames, np.random.RandomState(seed))
        interpolation = draw_misc_interpolations(self.spec.num_frames, random.Random(seed))[0]
        entry = self.cache.read(self.cache.clip_file(video_hash, start))
        if entry is None:
            return self.spec(row, seed)
        out = {f"cached_{k}": v for k, v in entry.items() if not k.startswith("misc_first_")}
        if "misc_first" in plan.streams:
            out["cached_misc_first"] = entry[f"misc_first_{MISC_INTERPOLATIONS.index(interpolation)}"]
        out.update({f"cached_{k}": v for k, v in text.items()})
        if plan.decoded:
            online = self.spec(row, seed)
            out.update({k: online[k] for k in DECODED_STREAMS if k in online})
        return out


def collate_cached(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Collate a micro-batch whose clips may be partly cached: all alike → one batch; mixed → ``parts``,
    one batch per clip in order (each computed on its own and concatenated)."""
    kinds = {any(k.startswith("cached_") for k in s) for s in samples}
    if len(kinds) == 1:
        return collate(samples)
    batch = collate([{k: s[k] for k in ("caption", "epoch", "index", "broken")} for s in samples])
    batch["parts"] = [collate([s]) for s in samples]
    return batch


def is_cached(batch: Mapping[str, Any]) -> bool:
    return "cached_posterior_mean" in batch


def posterior_latents(
    mean: torch.Tensor, std: torch.Tensor, noise: torch.Tensor, scaling_factor: float, batch: int
) -> torch.Tensor:
    """``scale·(mean + std·noise)`` as :func:`~videocomposer.models.vae.encode_video` computes it:
    moments ``[(b f), z, h, w]``, noise ``[B, z, F, h, w]`` → latents ``[B, z, F, h, w]``."""
    eps = rearrange(noise, "b c f h w -> (b f) c h w").to(mean)
    return rearrange(scaling_factor * (mean + std * eps), "(b f) c h w -> b c f h w", b=batch)


def cached_clip(batch: Mapping[str, Any], plan: CachePlan, device: torch.device) -> VideoClip:
    """The clip of a cached micro-batch: the stored streams (``misc`` = frame 0 only, from ``misc_first``)
    and, when the clip was decoded too, its frames, every misc frame and the mask (``[B, F, C, H, W]``)."""
    streams = {s: batch[f"cached_{s}"].to(device) for s in plan.streams}
    if "misc_first" in streams:
        streams["misc"] = streams.pop("misc_first")  # [B, 1, 3, M, M]
    streams.update({s: batch[s].to(device) for s in DECODED_STREAMS if s in batch})
    return VideoClip(
        video=streams.get("video"),
        misc=streams.get("misc"),
        motion=streams.get("motion"),
        vit_image=None,
        mask=streams.get("mask"),
    )


def features_from_cache(
    batch: Mapping[str, Any],
    names: Sequence[str],
    conditions: Any,
    scaling_factor: float,
    posterior_noise: torch.Tensor,
    device: torch.device,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Latents ``[B, z, F, h, w]`` and UNet kwargs of a cached micro-batch (the trainer's online step,
    with the stored encoder outputs in place of the encoders; call under the same autocast)."""
    mean, std = (batch[f"cached_posterior_{k}"].to(device).flatten(0, 1) for k in ("mean", "std"))  # [(b f), z, h, w]
    batch_size, num_frames = batch["cached_posterior_mean"].shape[:2]
    latents = posterior_latents(mean, std, posterior_noise.to(device), scaling_factor, batch_size).float()
    plan = cache_plan(names)
    # stored outputs: [B, 1, ...] (one sample each, collated) -> [B, ...]
    precomputed = {
        name: batch[f"cached_{name}"].to(device).flatten(0, 1) for name in plan.caption_outputs + plan.clip_outputs
    }
    kwargs = conditions.build(
        list(names),
        video=cached_clip(batch, plan, device),
        precomputed=precomputed,
        num_frames=int(num_frames),
        device=device,
    )
    return latents, kwargs


# ---------------------------------------------------------------------------------------------
# Writing: ``videocomposer extract --dataset``
# ---------------------------------------------------------------------------------------------


class _Fixed:
    """Stands in for the clip sampler's RNGs so that it takes a given start / interpolation."""

    def __init__(self, value: Any):
        self.value = value

    def choice(self, options: Sequence[Any]) -> Any:
        return self.value


def fill_clip(
    cache: ConditionCache,
    row: Annotation,
    spec: ClipLoaderSpec,
    vae: nn.Module,
    conditions: Any,
    chunk_size: int,
    device: torch.device,
    autocast: Callable[[], Any],
) -> int:
    """Write every missing entry of one video (each candidate start) and its caption; returns entries written.

    Raises what :func:`~videocomposer.video.sampling.load_video_clip` raises for an unreadable video.
    """
    plan = cache_plan(spec.conditions)
    video_hash = content_hash(row.video)
    written = _fill_caption(cache, row.caption, plan, spec.num_frames, conditions, device, autocast)
    frame_types = cache.frame_types(video_hash)
    if frame_types is None:  # any start will do to learn the stream's frame types
        frame_types = load_video_clip(
            row.video,
            spec.num_frames,
            spec.resolution,
            spec.misc_size,
            spec.feature_framerate,
            seed=0,
            with_mask=False,
            motion_settings=spec.motion_settings,
        ).frame_types
    for start in start_candidates(frame_types, spec.num_frames):
        path = cache.clip_file(video_hash, start)
        if path.is_file():
            continue
        interpolations = MISC_INTERPOLATIONS if "misc_first" in plan.streams else MISC_INTERPOLATIONS[:1]
        clips = [_load_clip_at(row.video, spec, start, interpolation) for interpolation in interpolations]
        cache.write_tensors(path, _clip_entry(clips, plan, vae, conditions, chunk_size, device, autocast))
        written += 1
    cache.write_frame_types(video_hash, frame_types, str(row.video))
    return written


def _fill_caption(
    cache: ConditionCache,
    caption: str,
    plan: CachePlan,
    num_frames: int,
    conditions: Any,
    device: torch.device,
    autocast: Callable[[], Any],
) -> int:
    """Write the caption's text outputs (``[1, L, D]`` each) unless cached or none is planned; returns 1 if written."""
    if not plan.caption_outputs or cache.text_file(caption).is_file():
        return 0
    with torch.no_grad(), autocast():
        text = conditions.build(list(plan.caption_outputs), prompt=[caption], num_frames=num_frames, device=device)
        cache.write_tensors(cache.text_file(caption), text)
    return 1


def _load_clip_at(video: str | os.PathLike, spec: ClipLoaderSpec, start: Any, interpolation: Any) -> VideoClip:
    """The clip of ``video`` that starts at frame index ``start``, its misc images resized with ``interpolation``."""
    return load_video_clip(
        video,
        spec.num_frames,
        spec.resolution,
        spec.misc_size,
        spec.feature_framerate,
        py_rng=_Fixed(interpolation),
        np_rng=_Fixed(start),
        with_mask=False,
        motion_settings=spec.motion_settings,
    )


def _clip_entry(
    clips: Sequence[VideoClip],
    plan: CachePlan,
    vae: nn.Module,
    conditions: Any,
    chunk_size: int,
    device: torch.device,
    autocast: Callable[[], Any],
) -> dict[str, torch.Tensor]:
    """The tensors cached for one start: the VAE posterior of ``clips[0]`` (mean and std ``[F, z, h, w]``), the
    planned CLIP outputs of it, its planned streams, and the first misc frame of each clip (one clip per misc
    interpolation) when ``misc_first`` is planned."""
    from ..models.vae import encode_posterior

    tensors: dict[str, torch.Tensor] = {}
    with torch.no_grad(), autocast():
        tensors["posterior_mean"], tensors["posterior_std"] = encode_posterior(
            vae, clips[0].video[None].to(device), chunk_size
        )
        if plan.clip_outputs:
            tensors.update(conditions.build(list(plan.clip_outputs), video=clips[0], device=device))
    for stream in plan.streams:
        if stream == "misc_first":
            tensors.update({f"misc_first_{k}": clip.misc[:1] for k, clip in enumerate(clips)})
        else:
            tensors[stream] = getattr(clips[0], stream)
    return tensors


def open_cache(
    root: str | os.PathLike,
    spec: ClipLoaderSpec,
    chunk_size: int,
    device: torch.device,
    mixed_precision: str,
    vae: nn.Module,
    conditions: Any,
) -> ConditionCache:
    """The cache at ``root`` for these settings and frozen networks (the VAE, and those of the cached outputs)."""
    plan = cache_plan(spec.conditions)
    networks = {"vae": vae}
    for model in sorted(models_needed(plan.caption_outputs + plan.clip_outputs)):
        attribute = model.partition(":")[0]  # "clip:text" -> the builder's clip
        networks[attribute] = conditions.model(attribute)
    return ConditionCache(Path(root), cache_fingerprint(spec, chunk_size, device.type, mixed_precision, networks))
