"""Video reading for the conditions: probe, the reference's MPEG-4 re-encode, decoding with motion vectors.

Everything runs in-process with PyAV (no ffmpeg binary, no subprocess, no temporary files). The
reference (``extract_motion_vectors``) does three things, reproduced here:

1. reads the frame count and frame rate with OpenCV (:func:`probe_video` returns the same numbers);
2. re-encodes the video with the ffmpeg CLI to an MPEG-4 Part 2 elementary stream at the sampling
   fps (:func:`sampling_fps`, :func:`reencode_mpeg4`; same bitstream content, so the same vectors);
3. decodes that stream with ``mvextractor``: frames, picture types and ``int32 [N, 10]`` motion
   vectors (:func:`decode_motion_stream`, libavcodec's ``+export_mvs`` through PyAV).

Bad input (missing, corrupt or truncated file, an image, no video stream, too few frames) raises
``FileNotFoundError`` or :class:`VideoReadError` (a ``ValueError``) naming the file.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np

#: Column order of a motion-vector row, as ``mvextractor`` returns it.
MOTION_VECTOR_COLUMNS = ("source", "w", "h", "src_x", "src_y", "dst_x", "dst_y", "motion_x", "motion_y", "motion_scale")

#: ffmpeg's ``-threads auto`` on the 2-CPU machine that produced the reference fixtures (CPUs + 1).
#: The mpeg4 encoder splits each picture into one slice per thread, which changes the motion
#: search, so the vectors depend on this number; the official runs used the CPU count of their host.
REFERENCE_ENCODER_THREADS = 3

_PICTURE_TYPE_CHARS = {"I": "I", "P": "P", "B": "B", "S": "S", "SI": "i", "SP": "p", "BI": "b"}
_IMAGE_DEMUXERS = ("image2", "image2pipe")


class VideoReadError(ValueError):
    """The file exists but is not a usable video (corrupt, truncated, an image, no video stream, too short)."""


@dataclass(frozen=True)
class VideoProbe:
    """What the reference reads with OpenCV before re-encoding.

    Attributes:
        path: the video file.
        num_frames: ``CAP_PROP_FRAME_COUNT`` (container frame count, else ``round(duration · fps)``).
        fps: ``CAP_PROP_FPS`` (the stream's average frame rate, not its nominal rate).
        width, height: coded frame size in pixels (before any display rotation).
    """

    path: str
    num_frames: int
    fps: float
    width: int
    height: int


@dataclass
class MotionStream:
    """A decoded MPEG-4 stream.

    Attributes:
        frame_types: one picture-type character per decoded frame (``"IPPP..."``).
        motion_vectors: per frame an ``int32 [N, 10]`` array in :data:`MOTION_VECTOR_COLUMNS` order
            (``N = 0`` for I-frames).
        frames: requested frame index → RGB ``uint8 [H, W, 3]`` image.
    """

    frame_types: str
    motion_vectors: list[np.ndarray]
    frames: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.frame_types)


def _read_error(path: str, problem: str) -> VideoReadError:
    return VideoReadError(f"cannot read video '{path}': {problem} (expected a video file FFmpeg can decode, e.g. .mp4)")


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    """Open ``path`` for reading; reject missing files, directories, images and files without video."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"video file not found: '{path}' (expected an existing video file, e.g. .mp4)")
    if os.path.isdir(path):
        raise _read_error(path, "it is a directory")
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise _read_error(path, f"FFmpeg cannot open it ({exc})") from exc
    fmt = container.format.name
    if fmt in _IMAGE_DEMUXERS or fmt.endswith("_pipe"):
        container.close()
        raise _read_error(path, f"it is a still image (format '{fmt}'), not a video")
    if not container.streams.video:
        container.close()
        raise _read_error(path, "it has no video stream")
    return container


def probe_video(path: str | os.PathLike) -> VideoProbe:
    """Frame count and frame rate as OpenCV's ``CAP_PROP_FRAME_COUNT`` / ``CAP_PROP_FPS`` report them.

    fps is the stream's average frame rate (its guessed rate where it has none). The count is the
    container's frame count; where the container has none (mkv, webm), ``floor(duration_s · fps +
    0.5)`` as OpenCV computes it; where the duration is unknown as well (raw elementary streams,
    where OpenCV returns garbage), the packets are counted.
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise _read_error(os.fspath(path), "its frame rate is unknown")
        fps = float(rate)
        num_frames = stream.frames
        if num_frames <= 0:
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = 0.0
            if duration > 0:
                num_frames = math.floor(duration * fps + 0.5)
            else:
                num_frames = sum(1 for packet in container.demux(stream) if packet.size)
        if num_frames <= 0:
            raise _read_error(os.fspath(path), "it contains no video frames")
        return VideoProbe(
            os.fspath(path), int(num_frames), fps, stream.codec_context.width, stream.codec_context.height
        )


def sampling_fps(num_frames: int, fps: float, feature_framerate: int = 4, min_frames: int = 16) -> int:
    """The frame rate the reference re-encodes at (DS:85-92).

    ``feature_framerate`` when the video yields more than ``min_frames`` (16, fixed in the reference
    whatever the clip length) frames at it, else ``int(min_frames / duration) + 1``.
    """
    if num_frames <= 0 or fps <= 0:
        raise ValueError(f"sampling_fps needs a positive frame count and fps, got num_frames={num_frames}, fps={fps}")
    if feature_framerate <= 0:
        raise ValueError(f"feature_framerate must be a positive integer, got {feature_framerate}")
    duration = num_frames / fps
    if duration * feature_framerate > min_frames:
        return max(feature_framerate, 1)
    return int(min_frames / duration) + 1


def _rotation_filters(rotation: float) -> list[tuple[str, str | None]]:
    """The filters ffmpeg's CLI inserts for a display rotation (counter-clockwise degrees)."""
    theta = (-round(rotation)) % 360
    filters: dict[int, list[tuple[str, str | None]]] = {
        90: [("transpose", "clock")],
        180: [("hflip", None), ("vflip", None)],
        270: [("transpose", "cclock")],
    }
    return filters.get(theta, [])


def _square_filters(square: int | None) -> list[tuple[str, str | None]]:
    """The range conversion, preceded (with ``square``) by a centre crop of the short side's square and an
    area resize of it to ``square × square`` pixels."""
    if square is None:
        return [("scale", "out_range=limited")]
    return [("crop", "w='min(iw,ih)':h='min(iw,ih)'"), ("scale", f"w={square}:h={square}:flags=area:out_range=limited")]


class _Mpeg4Encoder:
    """fps filter + full→limited range + yuv420p + MPEG-4 Part 2 encoder, as the reference's ffmpeg call."""

    def __init__(
        self,
        template: av.video.stream.VideoStream,
        first_frame: av.VideoFrame,
        fps: int,
        bit_rate: int,
        threads: int,
        square: int | None = None,
    ):
        self.graph = av.filter.Graph()
        chain = [self.graph.add_buffer(template=template)]
        for name, args in (
            _rotation_filters(first_frame.rotation)
            + [("fps", f"fps={fps}")]
            + _square_filters(square)
            + [("format", "pix_fmts=yuv420p"), ("buffersink", None)]
        ):
            chain.append(self.graph.add(name, args) if args else self.graph.add(name))
            chain[-2].link_to(chain[-1])
        self.graph.configure()
        self.fps, self.bit_rate, self.threads = fps, bit_rate, threads
        self.codec: av.VideoCodecContext | None = None
        self.data = bytearray()

    def _encode(self, frame: av.VideoFrame | None) -> None:
        if frame is not None:  # as the CLI: the encoder places its own I-frames (GOP 12), not the source's
            frame.pict_type = av.video.frame.PictureType.NONE
            frame.key_frame = False  # type: ignore[misc]  # settable; PyAV's stub declares it read-only
        if self.codec is None:
            if frame is None:
                return
            codec = av.CodecContext.create("mpeg4", "w")
            codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, "yuv420p"
            codec.time_base, codec.framerate = Fraction(1, self.fps), Fraction(self.fps, 1)
            codec.bit_rate, codec.thread_type, codec.thread_count = self.bit_rate, "SLICE", self.threads
            self.codec = codec
        for packet in self.codec.encode(frame):
            self.data.extend(bytes(packet))

    def push(self, frame: av.VideoFrame | None) -> None:
        self.graph.push(frame)
        while True:
            try:
                self._encode(cast(av.VideoFrame, self.graph.pull()))  # a video graph gives video frames
            except (av.BlockingIOError, av.EOFError):
                break

    def finish(self) -> bytes:
        self.push(None)
        self._encode(None)
        return bytes(self.data)


def reencode_mpeg4(
    path: str | os.PathLike,
    fps: int,
    *,
    bit_rate: int = 200_000,
    threads: int = REFERENCE_ENCODER_THREADS,
    square: int | None = None,
) -> bytes:
    """Re-encode a video in memory as the reference's ``ffmpeg -i <in> -filter:v fps=<fps> -c:v mpeg4 -f rawvideo``.

    Returns the MPEG-4 Part 2 elementary stream (GOP 12, no B-frames, 200 kb/s). Display rotation is
    applied as the CLI's autorotate does. ``threads`` is the encoder's slice count (see
    :data:`REFERENCE_ENCODER_THREADS`); with the default the motion vectors equal the fixtures'.
    ``square``: encode the centre square of the (rotated) frames, area-resized to ``square × square`` pixels
    (an even number), instead of the frames as they are (the reference).
    """
    if fps <= 0:
        raise ValueError(f"fps must be a positive integer, got {fps}")
    if threads <= 0:
        raise ValueError(f"threads must be a positive integer, got {threads}")
    if square is not None and (isinstance(square, bool) or not isinstance(square, int) or square < 2 or square % 2):
        raise ValueError(f"square must be an even number of pixels >= 2, got {square!r}")
    name = os.fspath(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame-threaded decoding of the input: faster, bit-exact
        encoder: _Mpeg4Encoder | None = None
        try:
            for frame in container.decode(stream):
                if encoder is None:
                    encoder = _Mpeg4Encoder(stream, frame, int(fps), bit_rate, threads, square)
                encoder.push(frame)
        except av.error.FFmpegError as exc:
            raise _read_error(name, f"decoding failed ({exc}); the file may be corrupt or truncated") from exc
        if encoder is None:
            raise _read_error(name, "it contains no decodable video frames")
        return encoder.finish()


def _picture_type(frame: av.VideoFrame) -> str:
    return _PICTURE_TYPE_CHARS.get(av.video.frame.PictureType(frame.pict_type).name, "?")


def _motion_vectors(frame: av.VideoFrame) -> np.ndarray:
    side_data = frame.side_data.get("MOTION_VECTORS")
    if side_data is None:
        return np.zeros((0, len(MOTION_VECTOR_COLUMNS)), dtype=np.int32)
    rows = side_data.to_ndarray()
    return np.stack([rows[name].astype(np.int32) for name in MOTION_VECTOR_COLUMNS], axis=1)


def _decoded_frames(source: bytes | str | os.PathLike, name: str) -> Iterator[av.VideoFrame]:
    if isinstance(source, (bytes, bytearray)):
        container = av.open(io.BytesIO(source), mode="r", format="m4v")
    else:
        container = _open(source)
    with container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags2": "+export_mvs"}
        try:
            yield from container.decode(stream)
        except av.error.FFmpegError as exc:
            raise _read_error(name, f"decoding failed ({exc})") from exc


def decode_motion_stream(
    source: bytes | str | os.PathLike, frame_indices: Sequence[int] | None = None, *, name: str | None = None
) -> MotionStream:
    """Decode a stream with motion-vector export, as the reference's ``mvextractor`` loop.

    Args:
        source: the bytes of an MPEG-4 Part 2 elementary stream (from :func:`reencode_mpeg4`) or a file.
        frame_indices: frames to return as RGB ``uint8 [H, W, 3]`` (all when None, none when empty).
            Picture types and vectors are always returned for every frame.
        name: what to call the source in errors (default: the path, or "<re-encoded stream>").
    """
    name = name or (os.fspath(source) if isinstance(source, (str, Path)) else "<re-encoded stream>")
    wanted = None if frame_indices is None else set(int(i) for i in frame_indices)
    types: list[str] = []
    vectors: list[np.ndarray] = []
    frames: dict[int, np.ndarray] = {}
    for index, frame in enumerate(_decoded_frames(source, name)):
        types.append(_picture_type(frame))
        vectors.append(_motion_vectors(frame))
        if wanted is None or index in wanted:
            frames[index] = frame.to_ndarray(format="rgb24")
    return MotionStream("".join(types), vectors, frames)
