"""Does the motion condition mean the same motion at any source size? The built-in toy model, both motion modes.

Five measurements, printed as tables with the command that made them:

1. **Condition agreement** (no model): one textured disc moving diagonally, rendered at 128, 256, 480, 720 and
   1080 px and at 1920x1080 and 720x1280, 17 frames at 4 fps (H.264). Each clip's motion condition at R = 64
   and R = 256 is compared with the 128-px clip's: Pearson correlation of the tensors and the ratio of the mean
   vector lengths, for the ``reference`` mode, the ``rescaled`` mode (the source's centre square brought to
   128 px before the MPEG-4 re-encode) and the candidate that was measured against it, ``block-area`` (every
   pixel of a block gets its vector, the field is area-resized to the 128-px frame, magnitudes scaled to its
   pixels, then one vector per 16-px block at the block centres, as the training clips had).
2. **Path error** of the generated object: held-out clips (one disc along a line, an arc, a zigzag or a
   bounce over a solid background, 16 fps, H.264, seeds never used in training) rendered at 128, 256 and
   720 px; the first frame given to the model shows the disc in another colour. The error is the distance
   between the centroid of the generated object and the source's, in fractions of the frame side, averaged
   over frames 1-7; with the motion condition in each mode and without it (``y, local_image``: the same inputs
   at every size, generated once from the 256-px clips).
3. **Stroke gain**: a 100-px straight stroke from the centre of a disc on a 256-px first frame, 8 strokes
   (each of 4 directions twice, the caption naming the direction); the object's displacement along the stroke
   over the 8 frames divided by 100 px, for the stroke rasterised as each mode does by default, and with no
   stroke (``y, local_image``).
4. **A guidance scale per condition** (``guidance_scale={"motion": m}``, nested guidance; the text at the model's
   scale): the stroke gain of table 3 and the path error of table 2 (the ``--guidance-side`` px clips, the model's
   motion mode) against the motion's scale ``m`` (``--motion-scales``), beside the single scale.
5. **Flow-warped initial noise** (``noise_warp=γ``, :mod:`videocomposer.diffusion.warped_noise`): the same two
   figures against the share ``γ`` of fresh noise (``--degradations``), beside plain noise and no motion.

Sampling: DPM-Solver++ (the toy model's sampler) with ``--steps`` steps (default 8, against the model's 20, to
stay within a few minutes on 2 CPU cores), the model's guidance, seed 8888. A setting whose conditions equal
another's (the two modes on a 128-px source) is generated once.

    python benchmarks/motion_sizes.py --out runs/motion_sizes
    python benchmarks/motion_sizes.py --tables guidance --clips 6   # table 4 alone
    python benchmarks/motion_sizes.py --tables warp --model runs/toy2/toy_model   # table 5, another model folder
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from recipes.toy.world_v1 import BACKGROUND_COLOURS, OBJECT_COLOURS, direction_words
from videocomposer.pipelines import VideoComposerPipeline
from videocomposer.pipelines.toy_model import toy_model_dir
from videocomposer.video.motion import MotionSettings, motion_condition
from videocomposer.video.reader import decode_motion_stream, reencode_mpeg4
from videocomposer.video.sampling import load_video_clip
from videocomposer.video.trajectory import Stroke, Trajectory
from videocomposer.video.writer import write_mp4

SEED = 8888
#: Held-out clips come from this seed (the toy model's training data used seed 1, its evaluation 1001-1002, 3001).
CLIP_SEED = 2026
#: 76 frames at 16 fps: re-sampled at 4 fps (every 4th frame), 19 frames, so every 8-frame clip starts at frame 0.
CLIP_FPS, CLIP_FRAMES, FRAME_STEP = 16, 76, 4
OBJECT_DISTANCE = 60.0  # RGB distance from the background beyond which a pixel is the object
AGREEMENT_SIZES = ((128, 128), (256, 256), (480, 480), (720, 720), (1080, 1080), (1080, 1920), (1280, 720))


# ---------------------------------------------------------------------------------------------- 1. agreement


def textured_disc_clip(path: Path, height: int, width: int, frames: int = 17) -> None:
    """A disc (radius 18 px at 128 px) with a smooth two-colour texture moving 3.5 px right and 2.5 px down per
    frame (at 128 px, scaled with the short side) over a navy background; 4 fps H.264."""
    scale = min(height, width) / 128
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    out = []
    for f in range(frames):
        u = (xx - width / 2) / scale + 30 - 3.5 * f
        v = (yy - height / 2) / scale + 20 - 2.5 * f
        cover = np.clip((18 - np.hypot(u, v)) * scale + 0.5, 0, 1)[..., None]
        mix = (0.5 + 0.5 * np.sin(2 * np.pi * u / 12) * np.sin(2 * np.pi * v / 12))[..., None]
        colour = mix * np.array([240, 220, 40]) + (1 - mix) * np.array([200, 60, 30])
        out.append((cover * colour + (1 - cover) * np.array([20, 30, 90])).round().astype(np.uint8))
    write_mp4(path, np.stack(out), fps=4)


def block_area_condition(path: Path, resolution: int, frames: int = 16, source_size: int = 128) -> torch.Tensor:
    """The ``block-area`` candidate (module docstring) of the first ``frames`` frames, from the re-encode at the
    source's own size."""
    stream = decode_motion_stream(reencode_mpeg4(path, 4), [0])
    height, width = stream.frames[0].shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    fields = []
    for rows in stream.motion_vectors[:frames]:
        filled = np.zeros((height, width, 2))
        for src, bw, bh, _, _, x, y, mx, my, scale in rows:
            filled[max(0, y - bh // 2) : y + bh // 2, max(0, x - bw // 2) : x + bw // 2] = (
                src * np.array([mx, my]) / scale
            )
        square = torch.from_numpy(filled[top : top + side, left : left + side]).permute(2, 0, 1)[None]
        cells = F.avg_pool2d(F.interpolate(square, size=(source_size, source_size), mode="area"), 16)[0]
        sparse = np.zeros((source_size, source_size, 2))
        sparse[8::16, 8::16] = (cells * source_size / side).permute(1, 2, 0).numpy()
        fields.append(sparse)
    return motion_condition(fields, resolution)


def agreement(reference: torch.Tensor, other: torch.Tensor) -> tuple[float, float]:
    """Pearson correlation of two conditions and the ratio of their mean vector lengths (other / reference)."""
    pair = torch.stack([reference.flatten(), other.flatten()]).double()
    corr = float(torch.corrcoef(pair)[0, 1]) if other.abs().sum() > 0 else math.nan
    return corr, float(other.norm(dim=1).mean() / reference.norm(dim=1).mean())


def condition_agreement(folder: Path) -> None:
    warnings.simplefilter("ignore")  # the reference mode's warning about lost vectors: this table shows them
    modes = {"reference": MotionSettings("reference", 128), "rescaled": MotionSettings("rescaled", 128)}
    clips = {}
    for height, width in AGREEMENT_SIZES:
        clips[height, width] = folder / f"disc_{width}x{height}.mp4"
        textured_disc_clip(clips[height, width], height, width)
    print("\n1. condition agreement with the 128-px clip (correlation / mean-length ratio)")
    for resolution in (64, 256):
        conditions = {
            (size, mode): load_video_clip(
                path, 16, resolution, 64, seed=0, with_mask=False, motion_settings=settings
            ).motion
            for size, path in clips.items()
            for mode, settings in modes.items()
        }
        conditions.update(
            {(size, "block-area"): block_area_condition(path, resolution) for size, path in clips.items()}
        )
        print(f"R = {resolution}:  {'source':>10s} " + " ".join(f"{m:>20s}" for m in (*modes, "block-area")))
        for size in clips:
            cells = [agreement(conditions[(128, 128), mode], conditions[size, mode]) for mode in (*modes, "block-area")]
            print(f"         {size[1]:>5d}x{size[0]:<5d} " + " ".join(f"{c:>12.3f} / {r:5.2f}" for c, r in cells))


# ---------------------------------------------------------------------------------------------- 2. path error


@dataclass(frozen=True)
class HeldOutDisc:
    """A held-out clip's disc: its path (``kind``: line, arc, zigzag, bounce) in pixels of a 128-px frame per
    re-sampled frame ``t``, radius and colours (``first_colour``: the disc in the first frame given to the model)."""

    kind: str
    x0: float
    y0: float
    vx: float
    vy: float
    radius: float
    colour: str
    first_colour: str
    background: str
    arc: float = 0.0

    def at(self, t: float) -> tuple[float, float]:
        """The disc's centre at re-sampled frame ``t`` (pixels of a 128-px frame)."""
        if self.kind == "arc":  # around (x0, y0), |v| px per frame along the circle
            angle = math.atan2(self.vy, self.vx) + math.hypot(self.vx, self.vy) / self.arc * t
            return self.x0 + self.arc * math.cos(angle), self.y0 + self.arc * math.sin(angle)
        x, y = self.x0 + self.vx * t, self.y0 + self.vy * t
        if self.kind == "zigzag":  # up and down 12 px every 4 frames while moving along x
            y = self.y0 + 12 * (2 * abs((t / 4) % 2 - 1) - 1)
        if self.kind == "bounce":
            low, span = self.radius + 2, 128 - 2 * self.radius - 4
            x, y = (low + span - abs((v - low) % (2 * span) - span) for v in (x, y))
        return x, y

    @property
    def caption(self) -> str:
        dx, dy = np.subtract(self.at(7), self.at(0))
        verb = {"arc": "curves", "bounce": "bounces around"}.get(self.kind, "moves")
        words = "" if self.kind == "bounce" else " " + direction_words(dx, dy)
        return f"a {self.first_colour} circle {verb}{words} over a {self.background} background"


def held_out_disc(index: int) -> HeldOutDisc:
    """Held-out clip ``index`` (line, arc, zigzag, bounce in turn), drawn from :data:`CLIP_SEED`."""
    rng = np.random.default_rng([CLIP_SEED, index])
    kind = ("line", "arc", "zigzag", "bounce")[index % 4]
    radius, speed, heading = rng.uniform(14, 20), rng.uniform(3.0, 5.0), rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(heading), speed * math.sin(heading)
    if kind == "zigzag":
        vx, vy = math.copysign(speed, vx), 0.0
    x0, y0 = 64 - 3.5 * vx + rng.uniform(-12, 12), 64 - 3.5 * vy + rng.uniform(-12, 12)  # frames 0-7 inside
    if kind == "bounce":  # faster, from anywhere: it meets a wall within the 8 frames
        x0, y0, vx, vy = rng.uniform(radius + 2, 126 - radius, 2).tolist() + [1.5 * vx, 1.5 * vy]
    arc = rng.uniform(25, 35) if kind == "arc" else 0.0
    colour, first = rng.choice(list(OBJECT_COLOURS), size=2, replace=False)
    return HeldOutDisc(
        kind, x0, y0, vx, vy, radius, str(colour), str(first), str(rng.choice(list(BACKGROUND_COLOURS))), arc
    )


def draw_disc(disc: HeldOutDisc, size: int, t: float, colour: str) -> Image.Image:
    image = Image.new("RGB", (size, size), BACKGROUND_COLOURS[disc.background])
    x, y = (v * size / 128 for v in disc.at(t))
    r = disc.radius * size / 128
    ImageDraw.Draw(image).ellipse([x - r, y - r, x + r, y + r], fill=OBJECT_COLOURS[colour])
    return image


def write_held_out(folder: Path, disc: HeldOutDisc, size: int, name: str) -> Path:
    """The clip at ``size`` px (:data:`CLIP_FRAMES` frames at :data:`CLIP_FPS`); returns its path."""
    path = folder / f"{name}_{size}.mp4"
    if not path.is_file():
        frames = [np.asarray(draw_disc(disc, size, n / FRAME_STEP, disc.colour)) for n in range(CLIP_FRAMES)]
        write_mp4(path, np.stack(frames), fps=CLIP_FPS)
    return path


def object_centroids(frames: np.ndarray) -> np.ndarray:
    """uint8 ``[F, H, W, 3]`` → ``[F, 2]`` centroid (x, y) of the pixels farther than :data:`OBJECT_DISTANCE`
    from the frame's background (median of its 2-px border), in fractions of the side; the centre when none."""
    out = np.full((len(frames), 2), 0.5)
    for i, frame in enumerate(frames.astype(np.float32)):
        border = np.concatenate(
            [
                frame[:2].reshape(-1, 3),
                frame[-2:].reshape(-1, 3),
                frame[:, :2].reshape(-1, 3),
                frame[:, -2:].reshape(-1, 3),
            ]
        )
        ys, xs = np.nonzero(np.linalg.norm(frame - np.median(border, axis=0), axis=2) > OBJECT_DISTANCE)
        if len(xs):
            out[i] = (xs.mean() + 0.5) / frame.shape[1], (ys.mean() + 0.5) / frame.shape[0]
    return out


def build(pipe, items: list[dict], conditions: list[str], motion_mode: str | None = None) -> dict[str, torch.Tensor]:
    """Each item's ``prompt`` and inputs → the batch of conditions (as ``generate`` builds them)."""
    size = pipe.defaults["height"]
    built = [
        pipe.prepare_conditions(
            conditions,
            seed=SEED,
            num_frames=pipe.defaults["num_frames"],
            height=size,
            width=size,
            motion_mode=motion_mode,
            **item,
        ).conditions
        for item in items
    ]
    return {name: torch.cat([b[name] for b in built]) for name in conditions}


def generate(
    pipe, batch: dict[str, torch.Tensor], steps: int, guidance_scale="default", noise_warp: float | None = None
) -> np.ndarray:
    """One batch of conditions → uint8 ``[B, F, H, W, 3]`` (same noise for every call; the model's guidance unless
    ``guidance_scale`` is given; ``noise_warp``: the pipeline's)."""
    out = pipe(
        conditions=list(batch),
        precomputed_conditions=batch,
        num_inference_steps=steps,
        guidance_scale=guidance_scale,
        generator=torch.Generator().manual_seed(SEED),
        output_type="np",
        noise_warp=noise_warp,
    )
    return np.round(out.frames * 255).astype(np.uint8)


def path_errors(videos: np.ndarray, sources: list[np.ndarray]) -> list[float]:
    """Mean centroid distance over frames 1.. between each generated video and its source (fractions of the side)."""
    return [
        float(np.linalg.norm(object_centroids(v)[1:] - object_centroids(s)[1:], axis=1).mean())
        for v, s in zip(videos, sources)
    ]


def path_error_table(pipe, folder: Path, clips: int, sizes: list[int], steps: int) -> None:
    discs = [held_out_disc(i) for i in range(clips)]
    frames, size = pipe.defaults["num_frames"], pipe.defaults["height"]
    rows: dict = {}
    for side in sizes:
        paths = [write_held_out(folder, d, side, f"clip{i:02d}") for i, d in enumerate(discs)]
        items = [
            {"prompt": d.caption, "video": p, "image": draw_disc(d, side, 0, d.first_colour)}
            for d, p in zip(discs, paths)
        ]
        sources = [
            np.round(
                load_video_clip(p, frames, size, size, seed=SEED, with_mask=False).misc.permute(0, 2, 3, 1).numpy()
                * 255
            ).astype(np.uint8)
            for p in paths
        ]
        if "none" not in rows:  # the same caption and first frame at every size: one baseline
            videos = generate(
                pipe,
                build(pipe, [{k: v for k, v in i.items() if k != "video"} for i in items], ["y", "local_image"]),
                steps,
            )
            rows["none"] = float(np.mean(path_errors(videos, sources)))
        done: list[tuple[torch.Tensor, float]] = []
        for mode in ("reference", "rescaled"):
            batch = build(pipe, items, ["y", "local_image", "motion"], mode)
            same = [error for motion, error in done if torch.equal(motion, batch["motion"])]  # same input, same output
            error = same[0] if same else float(np.mean(path_errors(generate(pipe, batch, steps), sources)))
            done.append((batch["motion"], error))
            rows[side, mode] = error, int((batch["motion"] != 0).sum()) / clips, batch["motion"][0].numel()
    print(
        f"\n2. path error of the generated object ({clips} held-out clips, fraction of the side; without motion: "
        f"{rows['none']:.3f})"
    )
    print(f"{'source':>8s} {'mode':>10s} {'with motion':>12s} {'ratio':>6s} {'non-zero motion values per clip':>32s}")
    for side in sizes:
        for mode in ("reference", "rescaled"):
            error, nonzero, total = rows[side, mode]
            print(f"{side:>6d}px {mode:>10s} {error:>12.3f} {error / rows['none']:>6.2f} {nonzero:>20.0f} of {total}")


# ---------------------------------------------------------------------------------------------- 3. stroke gain

#: The stroke cases: direction, disc colour, background (each direction twice).
STROKES = (
    ("right", "red", "gray"),
    ("left", "blue", "black"),
    ("down", "yellow", "navy"),
    ("up", "green", "brown"),
    ("right", "white", "teal"),
    ("left", "orange", "navy"),
    ("down", "purple", "gray"),
    ("up", "yellow", "black"),
)
DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}


def stroke_case(word: str, colour: str, background: str, length: float, canvas: int, radius: int = 28) -> dict:
    """A disc at the centre of the first frame and a straight stroke of ``length`` px from its centre."""
    centre, (dx, dy) = canvas / 2, DIRECTIONS[word]
    image = Image.new("RGB", (canvas, canvas), BACKGROUND_COLOURS[background])
    ImageDraw.Draw(image).ellipse(
        [centre - radius, centre - radius, centre + radius, centre + radius], fill=OBJECT_COLOURS[colour]
    )
    stroke = Stroke(((centre, centre), (centre + dx * length, centre + dy * length)), radius=radius + 8)
    return {
        "prompt": f"a {colour} circle moves {word} over a {background} background",
        "image": image,
        "motion": Trajectory(canvas, canvas, (stroke,)),
    }


def stroke_gains(videos: np.ndarray, length: float, canvas: int) -> dict[str, list[float]]:
    """The object's displacement along each case's stroke (first to last frame) / ``length``, by direction."""
    gains: dict[str, list[float]] = {word: [] for word in DIRECTIONS}
    for video, (word, _, _) in zip(videos, STROKES):
        centroids = object_centroids(video)
        gains[word].append(float(np.dot(centroids[-1] - centroids[0], DIRECTIONS[word])) * canvas / length)
    return gains


def stroke_gain_table(pipe, steps: int, length: float = 100.0, canvas: int = 256) -> None:
    cases = [stroke_case(*case, length, canvas) for case in STROKES]
    print(
        f"\n3. stroke gain: the object's displacement along a {length:.0f}-px stroke / {length:.0f} px "
        f"({canvas}-px first frame, {len(cases)} strokes in 4 directions; the caption names the direction)"
    )
    for label, mode in (("no stroke", None), ("reference", "reference"), ("rescaled", "rescaled")):
        chosen = [case if mode else {k: v for k, v in case.items() if k != "motion"} for case in cases]
        conditions = ["y", "local_image", "motion"] if mode else ["y", "local_image"]
        gains = stroke_gains(generate(pipe, build(pipe, chosen, conditions, mode), steps), length, canvas)
        print(
            f"{label:>10s}: gain {np.mean(sum(gains.values(), [])):6.2f}  ("
            + ", ".join(f"{w} {np.mean(g):.2f}" for w, g in gains.items())
            + ")"
        )


# ---------------------------------------------------------------------------------------------- 4. guidance per condition


def held_out_batches(
    pipe, folder: Path, clips: int, side: int, length: float = 100.0, canvas: int = 256
) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, dict[str, torch.Tensor]], list[np.ndarray]]:
    """Tables 4 and 5's inputs: the strokes' and the held-out clips' condition batches, with motion and without, and
    the clips' source frames (uint8 ``[F, H, W, 3]`` at the model's size)."""
    discs = [held_out_disc(i) for i in range(clips)]
    frames, size = pipe.defaults["num_frames"], pipe.defaults["height"]
    paths = [write_held_out(folder, d, side, f"clip{i:02d}") for i, d in enumerate(discs)]
    sources = [
        np.round(
            load_video_clip(p, frames, size, size, seed=SEED, with_mask=False).misc.permute(0, 2, 3, 1).numpy() * 255
        ).astype(np.uint8)
        for p in paths
    ]
    items = [
        {"prompt": d.caption, "video": p, "image": draw_disc(d, side, 0, d.first_colour)} for d, p in zip(discs, paths)
    ]
    conditions = ["y", "local_image", "motion"]
    with_motion = {
        "strokes": build(pipe, [stroke_case(*case, length, canvas) for case in STROKES], conditions),
        "clips": build(pipe, items, conditions),
    }
    without = {name: {k: v for k, v in batch.items() if k != "motion"} for name, batch in with_motion.items()}
    return with_motion, without, sources


def motion_row(pipe, batches, sources, steps: int, length: float, canvas: int, **sampling) -> str:
    """Stroke gain, path error and gain by direction of one sampling setting, as a table row's tail."""
    gains = stroke_gains(generate(pipe, batches["strokes"], steps, **sampling), length, canvas)
    error = float(np.mean(path_errors(generate(pipe, batches["clips"], steps, **sampling), sources)))
    by_direction = ", ".join(f"{w} {np.mean(g):.2f}" for w, g in gains.items())
    return f"{np.mean(sum(gains.values(), [])):>11.2f} {error:>10.3f}  {by_direction}"


def motion_guidance_table(
    pipe, folder: Path, clips: int, side: int, scales: list[float], steps: int, length: float = 100.0, canvas: int = 256
) -> None:
    """Stroke gain and path error against the motion's own guidance scale (the text at the model's scale)."""
    with_motion, without, sources = held_out_batches(pipe, folder, clips, side, length, canvas)
    print(
        f"\n4. motion guidance scale (nested guidance, the text at the model's {pipe.defaults['guidance_scale']}; "
        f"{len(STROKES)} strokes of {length:.0f} px on a {canvas}-px first frame; {clips} held-out clips at {side} px)"
    )
    print(f"{'motion scale':>14s} {'UNet passes':>11s} {'stroke gain':>11s} {'path error':>10s}  gain by direction")
    for scale in ["no motion", None, *scales]:
        guidance = {"motion": scale} if isinstance(scale, float) else "default"
        batches = without if scale == "no motion" else with_motion
        label = "single scale" if scale is None else scale if isinstance(scale, str) else f"{scale:g}"
        passes = 3 if isinstance(scale, float) else 2
        row = motion_row(pipe, batches, sources, steps, length, canvas, guidance_scale=guidance)
        print(f"{label:>14s} {passes:>11d} {row}")


def noise_warp_table(
    pipe,
    folder: Path,
    clips: int,
    side: int,
    degradations: list[float],
    steps: int,
    length: float = 100.0,
    canvas: int = 256,
) -> None:
    """Stroke gain and path error against the share of fresh noise in the flow-warped initial noise."""
    with_motion, without, sources = held_out_batches(pipe, folder, clips, side, length, canvas)
    print(
        f"\n5. flow-warped initial noise (degradation γ: the share of fresh noise; the model's guidance; "
        f"{len(STROKES)} strokes of {length:.0f} px on a {canvas}-px first frame; {clips} held-out clips at {side} px)"
    )
    print(f"{'noise':>14s} {'stroke gain':>11s} {'path error':>10s}  gain by direction")
    print(f"{'no motion':>14s} {motion_row(pipe, without, sources, steps, length, canvas)}")
    print(f"{'plain':>14s} {motion_row(pipe, with_motion, sources, steps, length, canvas)}")
    for degradation in degradations:
        row = motion_row(pipe, with_motion, sources, steps, length, canvas, noise_warp=degradation)
        print(f"{'γ = ' + format(degradation, 'g'):>14s} {row}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/motion_sizes", help="folder for the clips (default runs/motion_sizes)")
    parser.add_argument("--clips", type=int, default=12, help="held-out clips (default 12)")
    parser.add_argument("--sizes", default="128,256,720", help="source sides of the path-error table")
    parser.add_argument("--steps", type=int, default=8, help="DPM-Solver++ steps (default 8; the model's: 20)")
    parser.add_argument(
        "--tables",
        default="agreement,paths,strokes,guidance,warp",
        help="the tables to make (default: all five: agreement,paths,strokes,guidance,warp)",
    )
    parser.add_argument(
        "--motion-scales", default="1,2,3,5", help="motion guidance scales of table 4 (default 1,2,3,5)"
    )
    parser.add_argument(
        "--degradations", default="0.75,0.5,0.25,0", help="noise-warp degradations of table 5 (default 0.75,0.5,0.25,0)"
    )
    parser.add_argument(
        "--guidance-side", type=int, default=256, help="source side of tables 4 and 5's clips (default 256)"
    )
    parser.add_argument("--model", help="model folder (default: the built-in toy model)")
    args = parser.parse_args()
    tables = set(args.tables.split(","))
    began = time.time()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    print("command: python " + " ".join(sys.argv))
    if "agreement" in tables:
        condition_agreement(folder)
    pipe = VideoComposerPipeline.from_pretrained(args.model or toy_model_dir())
    pipe.set_progress_bar_config(disable=True)
    print(
        f"\nmodel: the built-in toy model, motion settings {pipe.motion_settings.to_dict()}; sampler "
        f"{pipe.scheduler} {args.steps} steps, guidance {pipe.defaults['guidance_scale']}, seed {SEED}"
    )
    if "paths" in tables:
        path_error_table(pipe, folder, args.clips, [int(s) for s in args.sizes.split(",")], args.steps)
    if "strokes" in tables:
        stroke_gain_table(pipe, args.steps)
    if "guidance" in tables:
        motion_guidance_table(
            pipe, folder, args.clips, args.guidance_side, [float(s) for s in args.motion_scales.split(",")], args.steps
        )
    if "warp" in tables:
        degradations = [float(s) for s in args.degradations.split(",")]
        noise_warp_table(pipe, folder, args.clips, args.guidance_side, degradations, args.steps)
    print(f"\n{time.time() - began:.0f} s")


if __name__ == "__main__":
    main()
