"""Fréchet Video Distance: I3D features of two sets of videos, Fréchet distance of their Gaussians.

Two feature extractors, whichever weights the user has (their numbers are **not** comparable):

* ``pytorch-i3d`` — :class:`~videocomposer.evaluation.i3d.InceptionI3D` with ``i3d_pretrained_400.pt``
  (the state dict ``cd-fvd`` and TATS download from ``github.com/songweige/TATS``,
  ``tats/fvd/i3d_pretrained_400.pt``). Protocol as ``cd-fvd``: every frame resized to 224×224
  (bilinear, aspect ratio not kept), values to [-1, 1], the 400 logits.
* ``stylegan-v`` — the TorchScript port of the TF-Hub I3D (``i3d_torchscript.pt``, published by
  StyleGAN-V, ``universome/stylegan-v``, on Dropbox), via ``torch.jit.load``. Protocol as
  ``common_metrics_on_video_quality``: short side to 224 (bilinear), centre crop 224, values to
  [-1, 1], ``detector(x, rescale=False, resize=False, return_features=True)``; needs ≥ 10 frames.

Every video contributes its first ``num_frames`` frames (default: all, the same count for every video).
Features of a set of files can be cached (:class:`FeatureCache`, keyed by the files' paths, sizes and
modification times, the weights file and the protocol). The distance is computed in float64 with
numpy: ``|μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1^½ Σ2 Σ1^½)^½)``, the matrix square roots from symmetric
eigendecompositions (negative round-off eigenvalues clipped to 0) — scipy's ``sqrtm`` is not needed
for symmetric positive semi-definite matrices, and scipy is not a dependency.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints import WeightFileError
from ..checkpoints.loading import load_strict, read_state_dict
from ..files import atomic_path
from .frames import VideoInput, is_path, read_video_frames
from .i3d import I3DConfig, InceptionI3D

I3D_SIZE = 224
STYLEGAN_V_MIN_FRAMES = 10


@dataclass
class VideoFeatureExtractor:
    """A loaded I3D and its protocol: ``features(videos uint8 [B, T, H, W, 3]) → float64 [B, 400]``."""

    name: str
    weights: Path | None
    run: Callable[[torch.Tensor], torch.Tensor]
    min_frames: int = 1
    size: int = I3D_SIZE
    keep_aspect: bool = False

    def protocol(self, num_frames: int | None) -> str:
        frames = f"first {num_frames} frames" if num_frames else "all frames"
        resize = (
            f"short side to {self.size} (bilinear) + centre crop"
            if self.keep_aspect
            else f"{self.size}x{self.size} bilinear (aspect not kept)"
        )
        return f"{self.name} I3D ({self.weights.name if self.weights else 'random init'}); {frames}; {resize}; values in [-1, 1]"

    def prepare(self, videos: np.ndarray) -> torch.Tensor:
        """uint8 ``[B, T, H, W, 3]`` → float32 ``[B, 3, T, S, S]`` in [-1, 1] by the protocol."""
        b, t, h, w, _ = videos.shape
        x = torch.from_numpy(videos).float().flatten(0, 1).permute(0, 3, 1, 2)  # [B·T, 3, H, W] in [0, 255]
        if self.keep_aspect:
            scale = self.size / min(h, w)
            new = (self.size, int(np.ceil(w * scale))) if h <= w else (int(np.ceil(h * scale)), self.size)
            x = F.interpolate(x, size=new, mode="bilinear", align_corners=False)
            top, left = (new[0] - self.size) // 2, (new[1] - self.size) // 2
            x = x[:, :, top : top + self.size, left : left + self.size]
        else:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = x / 127.5 - 1.0
        return x.unflatten(0, (b, t)).transpose(1, 2).contiguous()

    @torch.no_grad()
    def features(self, videos: np.ndarray, batch_size: int = 4) -> np.ndarray:
        if videos.shape[1] < self.min_frames:
            raise ValueError(
                f"the {self.name} I3D needs at least {self.min_frames} frames per video, got {videos.shape[1]}"
            )
        out = [
            self.run(self.prepare(videos[i : i + batch_size])).double().cpu() for i in range(0, len(videos), batch_size)
        ]
        return torch.cat(out).numpy()


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives hold ``<name>/code/`` and ``constants.pkl``; a ``torch.save`` state dict does not."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith("constants.pkl") or "/code/" in n for n in archive.namelist())
    except zipfile.BadZipFile:
        return False


def load_i3d(path: str | os.PathLike, device: str | torch.device = "cpu") -> VideoFeatureExtractor:
    """``i3d_pretrained_400.pt`` (pytorch-i3d state dict) or ``i3d_torchscript.pt`` (StyleGAN-V), detected from the file."""
    path = Path(path)
    if not path.is_file():
        raise WeightFileError(
            f"I3D weights not found: {path} (i3d_pretrained_400.pt from songweige/TATS or "
            "i3d_torchscript.pt from StyleGAN-V; see the README's Evaluation section)"
        )
    if _is_torchscript(path):
        with warnings.catch_warnings():  # deprecated in torch 2.x but the only way to run this published file
            warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=DeprecationWarning)
            detector = torch.jit.load(str(path), map_location=device).eval()
        return VideoFeatureExtractor(
            "stylegan-v",
            path,
            lambda x: detector(x.to(device), rescale=False, resize=False, return_features=True),
            min_frames=STYLEGAN_V_MIN_FRAMES,
            keep_aspect=True,
        )
    model = InceptionI3D()
    load_strict(model, read_state_dict(path), path)
    return i3d_extractor(model.to(device).eval(), weights=path)


def i3d_extractor(model: InceptionI3D, weights: Path | None = None, size: int = I3D_SIZE) -> VideoFeatureExtractor:
    """The ``pytorch-i3d`` protocol around a model (``size`` other than 224 only for tests)."""
    device = next(model.parameters()).device
    return VideoFeatureExtractor("pytorch-i3d", weights, lambda x: model(x.to(device)), size=size)


def random_i3d(width: float = 1 / 16, seed: int = 0, size: int = 64) -> VideoFeatureExtractor:
    """A small random-init I3D with the pytorch-i3d protocol at ``size`` px (tests, benchmarks; not a metric)."""
    torch.manual_seed(seed)
    model = InceptionI3D(I3DConfig(width=width)).eval()
    for module in model.modules():  # variance-preserving convolutions and random statistics: features of order 1
        if isinstance(module, torch.nn.Conv3d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return i3d_extractor(model, size=size)


def _file_key(path: str | os.PathLike) -> list:
    stat = os.stat(path)
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


class FeatureCache:
    """Features of a set of video files in ``folder/<sha256>.npy``, keyed by the files (path, size, mtime),
    the weights file, the protocol and the frame count. Written atomically."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def key(self, videos: Sequence[str | os.PathLike], extractor: VideoFeatureExtractor, num_frames: int | None) -> str:
        payload = {
            "videos": [_file_key(v) for v in videos],
            "protocol": extractor.protocol(num_frames),
            "weights": _file_key(extractor.weights) if extractor.weights else None,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def load(self, key: str) -> np.ndarray | None:
        path = self.folder / f"{key}.npy"
        return np.load(path) if path.is_file() else None

    def save(self, key: str, features: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, features)
        with atomic_path(self.folder / f"{key}.npy") as tmp:
            tmp.write_bytes(buffer.getvalue())


def _clip_frames(video: VideoInput, num_frames: int | None) -> np.ndarray:
    frames = read_video_frames(video)
    if num_frames is not None:
        if len(frames) < num_frames:
            name = os.fspath(video) if is_path(video) else "<frames>"
            raise ValueError(
                f"{name} has {len(frames)} frames; FVD with num_frames={num_frames} needs at least that many"
            )
        frames = frames[:num_frames]
    return frames


def video_set_features(
    videos: Sequence[VideoInput],
    extractor: VideoFeatureExtractor,
    num_frames: int | None = None,
    cache: FeatureCache | None = None,
) -> np.ndarray:
    """I3D features ``float64 [N, 400]`` of a set of videos (files or frames; same frame count and size per set)."""
    cacheable = cache is not None and all(is_path(v) for v in videos)
    key = cache.key(videos, extractor, num_frames) if cacheable else None
    if key is not None and (hit := cache.load(key)) is not None:
        return hit
    clips = [_clip_frames(v, num_frames) for v in videos]
    shapes = {c.shape for c in clips}
    if len(shapes) != 1:
        raise ValueError(
            f"the videos of one FVD set must share frame count and size; got {sorted(shapes)} "
            "(set num_frames, or resample the videos)"
        )
    features = extractor.features(np.stack(clips))
    if key is not None:
        cache.save(key, features)
    return features


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to two feature sets ``[N, D]`` (N ≥ 2 each), in float64."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"FVD needs two feature sets [N, D] with N >= 2 each and the same D; got {a.shape} and {b.shape}"
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _psd_sqrt(sigma_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ sigma_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a) + np.trace(sigma_b) - 2 * cross)


def fvd(
    set_a: Sequence[VideoInput],
    set_b: Sequence[VideoInput],
    extractor: VideoFeatureExtractor,
    num_frames: int | None = None,
    cache: FeatureCache | None = None,
) -> float:
    """FVD between two sets of videos (≥ 2 each) with ``extractor`` (:func:`load_i3d`)."""
    return frechet_distance(
        video_set_features(set_a, extractor, num_frames, cache), video_set_features(set_b, extractor, num_frames, cache)
    )
