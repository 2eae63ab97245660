"""Evaluation throughput per clip on the CPU, against the condition extraction generate itself runs.

The baseline is :func:`~videocomposer.video.sampling.load_video_clip` on the source video — the
clip sampling and motion-vector extraction every ``generate --input_video`` pays — measured in the
same process. Each metric of one 16-frame 256×256 clip is timed against it:

* ``reference_motion``: the condition re-extracted with its vector sites (evaluate without a record);
* ``motion_error``: re-encode the generated clip, extract its vectors, compare (codec EPE);
* ``flow_error``: OpenCV Farneback on the 15 frame pairs, compare;
* ``first_frame``: PSNR + SSIM of frame 0;
* ``i3d_features``: FVD features of the clip with a full-size I3D (random weights; same cost as the
  published ones) at 224×224;
* ``evaluate_run``: the whole model-free evaluation of one video (conditions re-extracted).

The "generated" clip is the sampled source clip itself written as an MP4 (what a perfect model
would produce). The report gives the median and minimum of ``--repeats`` runs and each median's
ratio to the baseline's median.

    python benchmarks/bench_evaluate.py [--video PATH] [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from videocomposer.evaluation import evaluate_run, first_frame_metrics, flow_error, motion_error, reference_motion
from videocomposer.evaluation.fvd import i3d_extractor
from videocomposer.evaluation.i3d import InceptionI3D
from videocomposer.files import write_text
from videocomposer.video.sampling import load_video_clip
from videocomposer.video.writer import write_mp4

DEFAULT_VIDEO = (
    Path(
        os.environ.get(
            "VC_REFERENCE_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "reference"
        )
    )
    / "video"
    / "motion_transfer.mp4"
)
FRAMES, RESOLUTION, SEED = 16, 256, 8888


def timed(function, repeats: int) -> list[float]:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="source video (default: the fixture clip)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    clip = load_video_clip(args.video, FRAMES, RESOLUTION, seed=SEED, with_mask=False)
    frames = ((clip.video.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    i3d = i3d_extractor(InceptionI3D().eval())
    with tempfile.TemporaryDirectory() as folder:
        generated = write_mp4(Path(folder) / "generated.mp4", frames, fps=8)
        condition = reference_motion(args.video, FRAMES, RESOLUTION, seed=SEED)
        cases = {
            "baseline_load_video_clip": lambda: load_video_clip(
                args.video, FRAMES, RESOLUTION, seed=SEED, with_mask=False
            ),
            "reference_motion": lambda: reference_motion(args.video, FRAMES, RESOLUTION, seed=SEED),
            "motion_error": lambda: motion_error(generated, condition),
            "flow_error": lambda: flow_error(generated, condition),
            "first_frame": lambda: first_frame_metrics(generated, frames[0]),
            "i3d_features": lambda: i3d.features(frames[None]),
            "evaluate_run": lambda: evaluate_run(generated, source=args.video, image=frames[0], seed=SEED),
        }
        times = {name: timed(case, args.repeats) for name, case in cases.items()}
        result = evaluate_run(generated, source=args.video, image=frames[0], seed=SEED)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["baseline_load_video_clip"]
    report = {
        "video": str(args.video),
        "clip": f"{FRAMES} frames, {RESOLUTION}x{RESOLUTION}, seed {SEED}",
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "median_s": medians,
        "min_s": {name: min(values) for name, values in times.items()},
        "ratio_to_baseline": {name: value / base for name, value in medians.items()},
        "metrics_of_the_perfect_clip": {k: float(v) for k, v in result.metrics.items()},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
