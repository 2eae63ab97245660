"""Does a drawn trajectory move the object? Motion EPE (``videocomposer evaluate``) against the drawn field.

Four cases in the toy model's domain: one coloured shape (circle or square, radius 14) on a plain
128x128 first frame, and a stroke from its centre 48 px right, left, down or up. Each case is generated
(``videocomposer generate compose``, same seed) three times:

* ``with_motion``: ``y, local_image, motion`` with the drawn trajectory (default source size = the video's);
* ``with_motion_source128``: the same with ``"source_size": 128`` (the toy model's training clips are 128 px);
* ``no_motion``: ``y, local_image``.

Every video is scored by ``videocomposer evaluate`` against the drawn field at the video's size (the first
run's ``--save-conditions`` record, copied beside the others), with two controls: ``ideal`` (the shape
drawn moving along the stroke) and ``still`` (the first frame repeated).

    python benchmarks/drawn_motion.py OUT_DIR --weights-dir toy [--steps 20]
"""

import argparse
import shutil
from pathlib import Path

from PIL import Image, ImageDraw

from videocomposer.cli import main
from videocomposer.video.trajectory import Stroke, Trajectory
from videocomposer.video.writer import write_mp4

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("out", help="output folder")
p.add_argument("--weights-dir", required=True, help="model folder (`toy` = the built-in toy model)")
p.add_argument("--model-config", help="architectures of official-format files (as generate)")
p.add_argument("--unet-file", help="another UNet file (as generate)")
p.add_argument("--steps", type=int, default=20, help="denoising steps (default 20, the toy model's)")
p.add_argument("--scheduler", default="dpmsolver++", help="sampler (default dpmsolver++, the toy model's)")
p.add_argument("--guidance", default="3.0", help="guidance scale (default 3.0, the toy model's)")
p.add_argument("--frames", type=int, default=8, help="frames (default 8)")
p.add_argument("--size", type=int, default=64, help="video side (default 64)")
a = p.parse_args()
out = Path(a.out)
out.mkdir(parents=True, exist_ok=True)
cases = [
    ("red", "circle", (40, 64), (1, 0), "gray"),
    ("blue", "square", (88, 64), (-1, 0), "black"),
    ("yellow", "circle", (64, 40), (0, 1), "navy"),
    ("green", "square", (64, 88), (0, -1), "brown"),
]
colours = {"red": (220, 40, 40), "blue": (50, 90, 235), "yellow": (240, 220, 40), "green": (40, 190, 60)}
backs = {"gray": (110, 110, 110), "black": (20, 20, 20), "navy": (20, 30, 90), "brown": (100, 65, 35)}
words = {(1, 0): "right", (-1, 0): "left", (0, 1): "down", (0, -1): "up"}
model = (
    ["--weights-dir", a.weights_dir]
    + (["--model-config", a.model_config] if a.model_config else [])
    + (["--unet-file", a.unet_file] if a.unet_file else [])
    + ["--scheduler", a.scheduler, "--guidance-scale", a.guidance]
)
for seed, (colour, shape, (cx, cy), (dx, dy), back) in enumerate(cases):
    case = out / f"case{seed}"
    case.mkdir(exist_ok=True)
    image = Image.new("RGB", (128, 128), backs[back])
    d = ImageDraw.Draw(image)
    r = 14
    (d.ellipse if shape == "circle" else d.rectangle)([cx - r, cy - r, cx + r, cy + r], fill=colours[colour])
    image.save(case / "first.png")
    length = 48
    traj = Trajectory(128, 128, (Stroke(((cx, cy), (cx + dx * length, cy + dy * length)), radius=r + 4),))
    (case / "trajectory.json").write_text(traj.to_json())
    native = Trajectory(128, 128, traj.strokes, source_size=128)  # the toy's training sources are 128 px
    (case / "trajectory_source128.json").write_text(native.to_json())
    caption = f"a {colour} {shape} moves {words[(dx, dy)]} over a {back} background"
    common = [
        "--image_path",
        str(case / "first.png"),
        "--input_text_desc",
        caption,
        "--frames",
        str(a.frames),
        "--height",
        str(a.size),
        "--width",
        str(a.size),
        "--steps",
        str(a.steps),
        "--seed",
        str(seed),
        "--device",
        "cpu",
        "--quiet",
    ]
    assert (
        main(
            [
                "generate",
                "compose",
                "--conditions",
                "y,local_image,motion",
                "--trajectory",
                str(case / "trajectory.json"),
                "--save-conditions",
                "--output-dir",
                str(case / "with_motion"),
                *model,
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "generate",
                "compose",
                "--conditions",
                "y,local_image,motion",
                "--trajectory",
                str(case / "trajectory_source128.json"),
                "--output-dir",
                str(case / "with_motion_source128"),
                *model,
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "generate",
                "compose",
                "--conditions",
                "y,local_image",
                "--output-dir",
                str(case / "no_motion"),
                *model,
                *common,
            ]
        )
        == 0
    )
    # every video is scored against the drawn field at the video's own size (the first run's record)
    record = next((case / "with_motion").rglob("*_conditions.safetensors"))
    for variant in ("with_motion_source128", "no_motion"):
        video = next((case / variant).rglob("*.mp4"))
        shutil.copyfile(record, video.with_name(video.stem + "_conditions.safetensors"))
    # controls: the ideal video (the shape moved along the drawn path) and a still one (the first frame repeated)
    centres = traj.strokes[0].frame_points(a.frames)
    ideal = []
    for x, y in centres:
        im = Image.new("RGB", (128, 128), backs[back])
        dd = ImageDraw.Draw(im)
        (dd.ellipse if shape == "circle" else dd.rectangle)([x - r, y - r, x + r, y + r], fill=colours[colour])
        ideal.append(im.resize((a.size, a.size), Image.BICUBIC))
    for variant, frames in (("ideal", ideal), ("still", [image.resize((a.size, a.size), Image.BICUBIC)] * a.frames)):
        (case / variant).mkdir(exist_ok=True)
        write_mp4(case / variant / "control.mp4", frames, fps=8)
        shutil.copyfile(record, case / variant / "control_conditions.safetensors")
for variant in ("with_motion", "with_motion_source128", "no_motion", "ideal", "still"):
    folder = out / variant
    folder.mkdir(exist_ok=True)
    for case in sorted(out.glob("case*")):
        for f in (case / variant).rglob("*"):
            if f.is_file() and f.suffix in (".mp4", ".safetensors"):
                shutil.copyfile(f, folder / f"{case.name}_{f.name}")
    print(f"== {variant}", flush=True)
    main(
        [
            "evaluate",
            str(folder),
            "--metrics",
            "motion_epe,motion_epe_dense,flow_epe",
            "--json",
            str(out / f"{variant}.json"),
        ]
    )
