"""Motion-vector extraction per clip: our in-process PyAV path vs the reference's ffmpeg-binary route.

* ours: :func:`reencode_mpeg4` (decode + fps filter + mpeg4 encoder in memory) then
  :func:`decode_motion_stream` on the bytes (RGB frames, picture types, vectors of every frame);
* reference: the reference's ffmpeg command in a subprocess writing a temporary file, then the
  same decode of that file, then the file is deleted. (The reference decodes with mvextractor;
  the decode here is PyAV for both, so the comparison isolates the re-encode route.)

Both run in the same process, interleaved, after one warm-up each; the report gives the median
and minimum of ``--repeats`` runs and the ratio of medians. The ffmpeg binary is the system one
if on PATH, else ``imageio_ffmpeg.get_ffmpeg_exe()`` (``pip install imageio-ffmpeg``; optional,
benchmark only).

    python benchmarks/bench_motion_vectors.py [--video PATH] [--repeats 15] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from videocomposer.video.reader import MotionStream, decode_motion_stream, probe_video, reencode_mpeg4, sampling_fps

DEFAULT_VIDEO = (
    Path(
        os.environ.get(
            "VC_REFERENCE_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "reference"
        )
    )
    / "video"
    / "motion_transfer.mp4"
)


def find_ffmpeg() -> str:
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise SystemExit(
            "no ffmpeg binary: install one (apt-get install ffmpeg) or `pip install imageio-ffmpeg`"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def extract_in_process(video: Path, fps: int) -> MotionStream:
    return decode_motion_stream(reencode_mpeg4(video, fps))


def extract_with_binary(ffmpeg: str, video: Path, fps: int) -> MotionStream:
    """The reference's route: ffmpeg subprocess → temporary .m4v → decode → delete."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"reencoded_{video.name}"
        command = [
            ffmpeg,
            "-threads",
            "8",
            "-loglevel",
            "error",
            "-i",
            str(video),
            "-filter:v",
            f"fps={fps}",
            "-c:v",
            "mpeg4",
            "-f",
            "rawvideo",
            str(target),
        ]
        subprocess.run(command, check=True, timeout=120)
        return decode_motion_stream(target)


def timed(function, *args) -> tuple[float, MotionStream]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="input video (default: the fixture clip)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--fps", type=int, default=None, help="sampling fps (default: the reference's rule)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    ffmpeg = find_ffmpeg()
    probe = probe_video(args.video)
    fps = args.fps or sampling_fps(probe.num_frames, probe.fps)
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=True).stdout.split("\n")[0]

    _, ours = timed(extract_in_process, args.video, fps)  # warm-up (and the outputs to compare)
    _, theirs = timed(extract_with_binary, ffmpeg, args.video, fps)
    times = {"pyav_in_process": [], "ffmpeg_subprocess": []}
    for _ in range(args.repeats):
        times["pyav_in_process"].append(timed(extract_in_process, args.video, fps)[0])
        times["ffmpeg_subprocess"].append(timed(extract_with_binary, ffmpeg, args.video, fps)[0])

    same_frames = sum(np.array_equal(a, b) for a, b in zip(ours.motion_vectors, theirs.motion_vectors))
    medians = {name: statistics.median(values) for name, values in times.items()}
    report = {
        "video": str(args.video),
        "source": {"frames": probe.num_frames, "fps": probe.fps, "width": probe.width, "height": probe.height},
        "sampling_fps": fps,
        "reencoded_frames": ours.num_frames,
        "ffmpeg": f"{ffmpeg} ({version})",
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "median_s": medians,
        "min_s": {name: min(values) for name, values in times.items()},
        "ratio_reference_over_ours": medians["ffmpeg_subprocess"] / medians["pyav_in_process"],
        "identical_vector_frames": f"{same_frames}/{ours.num_frames}",
    }
    print(json.dumps(report, indent=2))
    if args.json:
        partial = args.json.with_name(args.json.name + ".partial")
        partial.write_text(json.dumps(report, indent=2))
        os.replace(partial, args.json)


if __name__ == "__main__":
    main()
