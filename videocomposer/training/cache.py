"""The condition cache: what the frozen networks make of each training clip, computed once.

Every training step otherwise re-runs the frozen encoders on data that never changes: the VAE encode of
the frames, the CLIP text and image towers, the MPEG-4 re-encode and motion-vector decode. The cache
(``videocomposer extract --dataset ROOT --cache DIR --config TASK``) stores their outputs; training
(``condition_cache=DIR``) reads an entry when it exists and extracts online what is missing.

**Random choices stay per epoch, exactly as online.** A clip's random draws come from its keyed seed
``(seed, epoch, index)``: first the start I-frame (numpy), then one misc-resize interpolation per frame
(Python), then the mask. The cache is filled *per candidate start*: every I-frame a clip may start at
gets an entry, and for ``local_image`` / ``single_sketch`` the first misc frame is stored under each of
the three interpolations. At training time the loader makes the same draws from the same seed, from the
stored frame types, and picks the matching entry and interpolation, so a cached batch is bit-identical
to the online one. What depends on every frame's interpolation or on the mask (``depthmap``, ``sketch``,
``mask``) is not cached: for tasks training those, the loader still decodes the clip and the annotators
run online, while the VAE, CLIP and motion parts come from the cache.

**Keys.** An entry's file name is a hash of the video's *content* (not its path) and the cache
fingerprint: clip length, resolution, misc size, frame rate, the cached items, chunk size, device type,
autocast precision, the torch version, the cache format, and a digest of the frozen networks' weights
(every tensor's names, shapes, float64 sum and first and last 1024 values — fast, and changed by any
fine-tuning). A changed parameter therefore never reads an old entry; it simply misses.

**Concurrency.** Every file is written under a unique temporary name in its final folder and renamed
into place (atomic on POSIX), so any number of processes — ``torchrun`` ranks, several ``extract``
commands, training writers — may fill one cache; a reader sees a whole entry or none.

Layout: ``DIR/videos/<hash>.json`` (the re-encoded stream's frame types), ``DIR/clips/<ab>/<hash>.safetensors``
(one clip start: ``posterior_mean`` / ``posterior_std`` ``[F, 4, h, w]``, ``motion`` ``[F, 2, R, R]``,
``image`` ``[1, 1, D]``, ``misc_first_<k>`` ``[1, 3, M, M]``), ``DIR/text/<ab>/<hash>.safetensors`` (``y``
``[1, 77, D]``).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from einops import rearrange
from safetensors.torch import load_file, save_file
from torch import nn

from ..video.sampling import MISC_INTERPOLATIONS, choose_start_index, draw_misc_interpolations
from .data import Annotation, ClipLoaderSpec, collate

CACHE_FORMAT = 1
#: Conditions whose inputs the cache holds (the rest are extracted online from the decoded clip).
CACHED_CONDITIONS = ("text", "motion", "image", "local_image", "single_sketch")
#: Conditions that need every misc frame or the mask, so the clip is still decoded for them.
ONLINE_CONDITIONS = ("depthmap", "sketch", "mask")


def cached_items(conditions: Sequence[str]) -> tuple[str, ...]:
    """The per-clip tensors a task's cache entries hold (besides the VAE posterior and the text)."""
    items = ["posterior"]
    if "motion" in conditions:
        items.append("motion")
    if "image" in conditions:
        items.append("image")
    if {"local_image", "single_sketch"} & set(conditions):
        items.append("misc_first")
    return tuple(items)


def weights_digest(module: nn.Module) -> str:
    """A digest of a network's weights: names, shapes, dtypes, float64 sums and the first/last 1024 values."""
    digest = hashlib.blake2b(digest_size=16)
    for name, value in sorted(module.state_dict().items()):
        flat = value.detach().reshape(-1).cpu()
        digest.update(f"{name}{tuple(value.shape)}{value.dtype}{float(flat.double().sum())!r}".encode())
        digest.update(flat[:1024].float().numpy().tobytes() + flat[-1024:].float().numpy().tobytes())
    return digest.hexdigest()


def cache_fingerprint(spec: ClipLoaderSpec, chunk_size: int, device_type: str, mixed_precision: str,
                      networks: Mapping[str, nn.Module]) -> str:
    """Everything besides the video content that changes a cached tensor, as one string."""
    values = {"format": CACHE_FORMAT, "frames": spec.num_frames, "resolution": spec.resolution,
              "misc_size": spec.misc_size, "fps": spec.feature_framerate, "items": cached_items(spec.conditions),
              "chunk_size": chunk_size, "device": device_type, "precision": mixed_precision,
              "torch": torch.__version__.split("+")[0],
              "weights": {name: weights_digest(net) for name, net in sorted(networks.items())}}
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
        _atomic_write(path, lambda tmp: save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                                                  str(tmp), metadata={"fingerprint": self.fingerprint}))

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
    return f"{files} files, {size / 2**20:.1f} MiB in {cache.root}"


# ---------------------------------------------------------------------------------------------
# Reading: the loader of a training run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedClipLoader:
    """Drop-in for :class:`ClipLoaderSpec`: a clip whose entry (start, text) is cached comes back as
    ``cached_*`` tensors (plus the decoded ``video``/``misc``/``mask`` only when a task trains
    depthmap, sketch or mask); any miss loads the clip online exactly as without a cache."""

    spec: ClipLoaderSpec
    cache: ConditionCache

    def __call__(self, row: Annotation, seed: int) -> dict[str, torch.Tensor]:
        video_hash = content_hash(row.video)
        frame_types = self.cache.frame_types(video_hash)
        text = self.cache.read(self.cache.text_file(row.caption)) if "text" in self.spec.conditions else {}
        if frame_types is None or text is None:
            return self.spec(row, seed)
        # the draws of load_video_clip, in its order, from the same seed
        start = choose_start_index(frame_types, self.spec.num_frames, np.random.RandomState(seed))
        interpolation = draw_misc_interpolations(self.spec.num_frames, random.Random(seed))[0]
        entry = self.cache.read(self.cache.clip_file(video_hash, start))
        if entry is None:
            return self.spec(row, seed)
        out = {f"cached_{k}": v for k, v in entry.items() if not k.startswith("misc_first_")}
        if "misc_first" in cached_items(self.spec.conditions):
            out["cached_misc_first"] = entry[f"misc_first_{MISC_INTERPOLATIONS.index(interpolation)}"]
        out.update({f"cached_{k}": v for k, v in text.items()})
        if set(ONLINE_CONDITIONS) & set(self.spec.conditions):
            online = self.spec(row, seed)
            out.update({k: online[k] for k in ("video", "misc", "mask") if k in online})
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


def posterior_latents(mean: torch.Tensor, std: torch.Tensor, noise: torch.Tensor, scaling_factor: float,
                      batch: int) -> torch.Tensor:
    """``scale·(mean + std·noise)`` as :func:`~videocomposer.models.vae.encode_video` computes it:
    moments ``[(b f), z, h, w]``, noise ``[B, z, F, h, w]`` → latents ``[B, z, F, h, w]``."""
    eps = rearrange(noise, "b c f h w -> (b f) c h w").to(mean)
    return rearrange(scaling_factor * (mean + std * eps), "(b f) c h w -> b c f h w", b=batch)


def cached_conditions(batch: Mapping[str, Any], names: Sequence[str], device: torch.device
                      ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """The UNet kwargs a cached micro-batch supplies as they are (``precomputed``), and the text context."""
    pre: dict[str, torch.Tensor] = {}
    if "motion" in names:
        pre["motion"] = batch["cached_motion"].to(device).transpose(1, 2)  # [B, F, 2, R, R] → [B, 2, F, R, R]
    if "image" in names:
        pre["image"] = batch["cached_image"].to(device).flatten(0, 1)  # [B, 1, 1, D] → [B, 1, D]
    if "local_image" in names:
        pre["local_image"] = batch["cached_misc_first"].to(device).transpose(1, 2)  # [B, 3, 1, M, M]
    y = batch["cached_y"].to(device).flatten(0, 1) if "cached_y" in batch else None  # [B, 77, D]
    return pre, y


def features_from_cache(batch: Mapping[str, Any], names: Sequence[str], conditions: Any, scaling_factor: float,
                        posterior_noise: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Latents ``[B, z, F, h, w]`` and UNet kwargs of a cached micro-batch (the trainer's online step,
    with the stored encoder outputs in place of the encoders; call under the same autocast)."""
    from ..video.clip import VideoClip

    mean, std = (batch[f"cached_posterior_{k}"].to(device).flatten(0, 1) for k in ("mean", "std"))  # [(b f), z, h, w]
    batch_size, num_frames = batch["cached_posterior_mean"].shape[:2]
    latents = posterior_latents(mean, std, posterior_noise.to(device), scaling_factor, batch_size).float()
    precomputed, y = cached_conditions(batch, names, device)
    clip = None
    if "video" in batch:  # depthmap / sketch / mask: the decoded clip's misc frames and mask, online
        clip = VideoClip(video=batch["video"].to(device), misc=batch["misc"].to(device), motion=None, vit_image=None,
                         mask=batch["mask"].to(device) if "mask" in batch else None)
    sketch = None
    if "single_sketch" in names and "sketch" not in names:
        sketch = batch["cached_misc_first"][:, 0].to(device)  # the first misc frame, [B, 3, M, M]
    kwargs = conditions.build(list(names), clip=clip, prompt_embeds=y, precomputed=precomputed, sketch=sketch,
                              num_frames=int(num_frames), device=device)
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


def fill_clip(cache: ConditionCache, row: Annotation, spec: ClipLoaderSpec, vae: nn.Module, conditions: Any,
              chunk_size: int, device: torch.device, autocast: Callable[[], Any]) -> int:
    """Write every missing entry of one video (each candidate start) and its caption; returns entries written.

    Raises what :func:`~videocomposer.video.sampling.load_video_clip` raises for an unreadable video.
    """
    from ..models.vae import encode_posterior
    from ..video.sampling import load_video_clip, start_candidates

    video_hash = content_hash(row.video)
    items = cached_items(spec.conditions)
    written = 0
    if "text" in spec.conditions and not cache.text_file(row.caption).is_file():
        with torch.no_grad(), autocast():
            cache.write_tensors(cache.text_file(row.caption), {"y": conditions.encode_prompt([row.caption], device)})
        written += 1
    frame_types = cache.frame_types(video_hash)

    def load(start: Any, interpolation: Any):
        return load_video_clip(row.video, spec.num_frames, spec.resolution, spec.misc_size, spec.feature_framerate,
                               py_rng=_Fixed(interpolation), np_rng=_Fixed(start), with_mask=False)

    if frame_types is None:  # any start will do to learn the stream's frame types
        frame_types = load_video_clip(row.video, spec.num_frames, spec.resolution, spec.misc_size,
                                      spec.feature_framerate, seed=0, with_mask=False).frame_types
    for start in start_candidates(frame_types, spec.num_frames):
        path = cache.clip_file(video_hash, start)
        if path.is_file():
            continue
        interpolations = MISC_INTERPOLATIONS if "misc_first" in items else MISC_INTERPOLATIONS[:1]
        clips = [load(start, interpolation) for interpolation in interpolations]
        tensors: dict[str, torch.Tensor] = {}
        with torch.no_grad(), autocast():
            tensors["posterior_mean"], tensors["posterior_std"] = encode_posterior(vae, clips[0].video[None].to(device),
                                                                                   chunk_size)
            if "image" in items:
                tensors["image"] = conditions.encode_image(clips[0].vit_image[None].to(device), device)
        if "motion" in items:
            tensors["motion"] = clips[0].motion
        if "misc_first" in items:
            tensors.update({f"misc_first_{k}": clip.misc[:1] for k, clip in enumerate(clips)})
        cache.write_tensors(path, tensors)
        written += 1
    cache.write_frame_types(video_hash, frame_types, str(row.video))
    return written


def open_cache(root: str | os.PathLike, spec: ClipLoaderSpec, chunk_size: int, device: torch.device,
               mixed_precision: str, vae: nn.Module, conditions: Any) -> ConditionCache:
    """The cache at ``root`` for these settings and frozen networks (the VAE, and CLIP for text / image)."""
    networks = {"vae": vae}
    if {"text", "image"} & set(spec.conditions):
        networks["clip"] = conditions.clip
    return ConditionCache(Path(root), cache_fingerprint(spec, chunk_size, device.type, mixed_precision, networks))
