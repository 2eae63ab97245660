"""The codecs the synthetic world writes its clips with, as phones and editors do.

:data:`CODECS` maps a name to its container and encoder: H.264 (through
:func:`videocomposer.video.writer.write_mp4`, as the package writes its own videos), HEVC (phones), MPEG-4
Part 2, VP9 (WebM, the web) and ProRes (MOV, editors). :func:`write_clip` writes frames with one of them,
atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from videocomposer.files import atomic_path
from videocomposer.video.writer import write_mp4


@dataclass(frozen=True)
class Codec:
    """A file format: its ``extension``, PyAV ``container`` format, ``encoder``, pixel format and encoder options;
    ``bits_per_pixel``: the bit rate per pixel and frame where the encoder takes one (0: its options decide)."""

    extension: str
    container: str
    encoder: str
    pix_fmt: str
    options: dict[str, str] = field(default_factory=dict)
    bits_per_pixel: float = 0.0


#: Codec name → how clips are written with it (``h264`` goes through the package's own MP4 writer).
CODECS: dict[str, Codec] = {
    "h264": Codec("mp4", "mp4", "libx264", "yuv420p"),
    "hevc": Codec(
        "mp4", "mp4", "libx265", "yuv420p", {"crf": "20", "preset": "fast", "x265-params": "log-level=error"}
    ),
    "mpeg4": Codec("mp4", "mp4", "mpeg4", "yuv420p", bits_per_pixel=0.5),
    "vp9": Codec(
        "webm", "webm", "libvpx-vp9", "yuv420p", {"crf": "30", "b": "0", "deadline": "realtime", "cpu-used": "8"}
    ),
    "prores": Codec("mov", "mov", "prores_ks", "yuv422p10le", {"profile": "0"}),
}


def write_clip(path: str | os.PathLike, frames: np.ndarray, fps: float, codec: str = "h264") -> Path:
    """Write uint8 ``[F, H, W, 3]`` frames (even ``H`` and ``W``) at ``fps`` with ``codec`` (:data:`CODECS`), atomically.

    Raises:
        ValueError: an unknown codec, or odd frame sides.
    """
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"frame sides must be even for 4:2:0 video, got {frames.shape[2]}x{frames.shape[1]}")
    if codec == "h264":
        return write_mp4(path, frames, fps=fps)
    spec = CODECS[codec]
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format=spec.container) as container:
            stream = container.add_stream(spec.encoder, rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], spec.pix_fmt
            stream.options = dict(spec.options)
            if spec.bits_per_pixel:
                stream.bit_rate = int(spec.bits_per_pixel * frames.shape[1] * frames.shape[2] * fps)
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode(None))
    return Path(path)
