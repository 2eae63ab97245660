"""The synthetic world of the toy model (``world="v2"``): any colours, shapes, backgrounds, paths, sizes, rates, codecs.

Every clip is fully described by a :class:`ClipSpec` drawn from ``(seed, index)`` alone
(:func:`sample_clip_spec`), so a dataset is reproducible by its seed and any clip can be rebuilt without
the others; held-out clips come from seeds never used in training.

**What a clip holds.** 1-3 objects (half the clips have one), each one of :data:`~recipes.toy.shapes.SHAPES`
with a half-size of 7-20 % of the frame's short side, in any sRGB colour, moving along one of
:data:`~recipes.toy.paths.PATHS` at any heading and a speed of 0.8-6 % of the short side per step; over one
of :data:`~recipes.toy.backgrounds.BACKGROUNDS` mixing two colours. Objects stay inside the centre square of
the frame (what a model sees after its centre crop); the first object is the largest, drawn on top and named
first. Colours are drawn name first (uniformly over the twelve names of
:data:`videocomposer.evaluation.colours.COLOUR_NAMES`), then a shade that clearly has that name
(:data:`NAME_MARGIN`); each object differs from every background colour by at least
:data:`BACKGROUND_CONTRAST` ΔE and from the other objects by :data:`OBJECT_CONTRAST`, and no two objects or
an object and the background share a name, so the caption names each unambiguously, e.g. ``"a red star
zigzags left and a cyan ring bounces around over a gray to blue gradient"``.

**How it is written.** Short side 128-720 px (:data:`SHORT_SIDES`), square, landscape or portrait
(:data:`ASPECTS`); 8-30 fps (:data:`FRAME_PLANS`); H.264, HEVC, MPEG-4 Part 2, VP9 or ProRes
(:data:`CODEC_WEIGHTS`, :mod:`recipes.toy.encoders`); beside each clip its truth file
(:mod:`videocomposer.evaluation.truth`).

**Steps and frame rates.** The trainer re-encodes a clip at :func:`~videocomposer.video.reader.sampling_fps`
(4 fps once it lasts more than 4 s, else about 16 frames over its duration) before sampling consecutive
frames. Each frame rate is written with frame counts for which that rate divides the clip's, so the
sampled frames are every ``stride``-th written frame, evenly spaced: a **step** is one sampled frame, and
speeds are set per step, so the motion between sampled frames is the same at every frame rate (the written
frames in between move by ``1 / stride`` of a step).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videocomposer.evaluation.colours import COLOUR_NAMES, colour_name, delta_e, naming_margin
from videocomposer.evaluation.tracks import background_mixes
from videocomposer.evaluation.truth import (
    ClipTruth,
    ObjectTruth,
    mask_geometry,
    polygon_mask,
    read_truth,
    truth_path,
    write_truth,
)

from .backgrounds import BACKGROUNDS, RGB, BackgroundSpec, background_phrase, render_background
from .encoders import CODECS, write_clip
from .paths import PATHS, PathSpec, path_phrase, sample_path
from .shapes import SHAPES, shape_polygons

#: Frame rate → the (written frames, stride) plans it is written with: the trainer's re-encode keeps every
#: ``stride``-th frame, 16-17 sampled frames in all (module docstring).
FRAME_PLANS: dict[int, tuple[tuple[int, int], ...]] = {
    8: ((17, 1), (40, 2)),
    12: ((17, 1), (36, 2)),
    16: ((17, 1), (34, 2)),
    24: ((34, 2), (50, 3)),
    25: ((85, 5),),
    30: ((34, 2), (50, 3)),
}
#: Sampling weights of the frame rates, the short sides (px), the aspect ratios (long:short) and the codecs.
FPS_WEIGHTS = {8: 1.0, 12: 1.0, 16: 1.0, 24: 2.0, 25: 1.0, 30: 2.0}
SHORT_SIDES = {128: 4.0, 176: 1.0, 240: 2.0, 256: 2.0, 360: 2.0, 480: 1.0, 720: 1.0}
ASPECTS = {1.0: 3.0, 4 / 3: 2.0, 3 / 2: 1.0, 16 / 9: 2.0}
PORTRAIT_SHARE = 0.3
CODEC_WEIGHTS = {"h264": 5.0, "hevc": 2.0, "mpeg4": 1.0, "vp9": 1.5, "prores": 0.5}
#: Object count → share of clips; half-size range (square units).
OBJECT_COUNTS = {1: 0.5, 2: 0.3, 3: 0.2}
OBJECT_SIZE = (0.07, 0.2)
#: Least ΔE (CIE76) between an object and every mix of the background's colours, and between two objects.
BACKGROUND_CONTRAST, OBJECT_CONTRAST = 40.0, 30.0
#: Least :func:`~videocomposer.evaluation.colours.naming_margin` of every sampled colour (ΔE).
NAME_MARGIN = 6.0
#: Share of two-colour backgrounds whose second colour is a near shade of the first (a subtle texture).
SUBTLE_SHARE = 0.3


@dataclass(frozen=True)
class ObjectSpec:
    """One object: ``shape``, sRGB ``colour``, half-size ``radius`` (square units) and ``path``."""

    shape: str
    colour: RGB
    radius: float
    path: PathSpec

    @property
    def colour_name(self) -> str:
        return colour_name(self.colour)


@dataclass(frozen=True)
class ClipSpec:
    """One clip: frame size, rate and codec, ``num_frames`` written frames of which every ``stride``-th is a step,
    the background and the objects (first: drawn on top, named first)."""

    seed: int
    index: int
    width: int
    height: int
    fps: int
    num_frames: int
    stride: int
    codec: str
    background: BackgroundSpec
    objects: tuple[ObjectSpec, ...]

    @property
    def side(self) -> int:
        """The short side (px): the centre square's side."""
        return min(self.width, self.height)

    @property
    def steps(self) -> np.ndarray:
        """The step of every written frame, float64 ``[num_frames]`` (frame / stride)."""
        return np.arange(self.num_frames) / self.stride

    @property
    def caption(self) -> str:
        return clip_caption(self)

    def centres(self, index: int) -> np.ndarray:
        """Object ``index``'s centre in every written frame, ``[num_frames, 2]`` continuous pixels."""
        corner = np.array([(self.width - self.side) / 2, (self.height - self.side) / 2])
        return corner + self.side * self.objects[index].path.positions(self.steps)

    def polygons(self, index: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Object ``index``'s outline and holes around its centre, in pixels."""
        obj = self.objects[index]
        return shape_polygons(obj.shape, obj.radius * self.side)


def clip_caption(spec: ClipSpec) -> str:
    """``"a red star moves left and a cyan ring bounces around over a gray to blue gradient"``."""
    phrases = []
    for obj in spec.objects:
        name = obj.colour_name
        phrases.append(f"{'an' if name[0] in 'aeiou' else 'a'} {name} {obj.shape} {path_phrase(obj.path, spec.steps)}")
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"{joined} over {background_phrase(spec.background)}"


def _choice(rng: np.random.Generator, weights: dict) -> object:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def sample_colour(rng: np.random.Generator, name: str | None = None) -> RGB:
    """A colour that clearly has ``name`` (default: a name drawn uniformly): uniform sRGB colours until one is named
    so with a margin of :data:`NAME_MARGIN` (the name's typical shade after 5000 tries)."""
    name = name or str(rng.choice(list(COLOUR_NAMES)))
    for _ in range(5000):
        rgb = tuple(int(v) for v in rng.integers(0, 256, 3))
        if colour_name(rgb) == name and naming_margin(rgb) >= NAME_MARGIN:
            return rgb
    return COLOUR_NAMES[name]


def sample_background(rng: np.random.Generator) -> BackgroundSpec:
    """A background of any kind (solid twice as often as each other kind) and colours (module docstring)."""
    kind = str(_choice(rng, {k: 2.0 if k == "solid" else 1.0 for k in BACKGROUNDS}))
    first = sample_colour(rng)
    if kind == "solid":
        second = first
    elif rng.random() < SUBTLE_SHARE:
        second = tuple(int(v) for v in np.clip(np.array(first) + rng.normal(0, 20, 3), 0, 255).round())
    else:
        second = sample_colour(rng)
    scale = {
        "radial": rng.uniform(0.5, 1.0),
        "stripes": rng.uniform(0.06, 0.3),
        "checker": rng.uniform(0.05, 0.2),
        "noise": rng.uniform(0.06, 0.25),
    }.get(kind, 0.2)
    return BackgroundSpec(
        kind,
        (first, second),
        angle=float(rng.uniform(0, np.pi)),
        scale=float(scale),
        centre=tuple(float(c) for c in rng.uniform(0.2, 0.8, 2)),
        seed=int(rng.integers(2**31)),
    )


def _object_colours(rng: np.random.Generator, background: BackgroundSpec, count: int) -> list[RGB] | None:
    """``count`` object colours that stand out from the background and from each other, or None (module docstring)."""
    mixes = background_mixes(background.colours)
    taken = {colour_name(m) for m in mixes}
    colours: list[RGB] = []
    for _ in range(50 * count):
        free = [n for n in COLOUR_NAMES if n not in taken]
        if len(colours) == count or not free:
            break
        rgb = sample_colour(rng, str(rng.choice(free)))
        if delta_e(mixes, rgb).min() >= BACKGROUND_CONTRAST and all(
            delta_e(c, rgb) >= OBJECT_CONTRAST for c in colours
        ):
            colours.append(rgb)
            taken.add(colour_name(rgb))
    return colours if len(colours) == count else None


def _frame_format(rng: np.random.Generator, min_side: int, max_side: int) -> tuple[int, int, int, int, int]:
    """``(width, height, fps, num_frames, stride)`` of a clip (module docstring)."""
    sides = {s: w for s, w in SHORT_SIDES.items() if min_side <= s <= max_side}
    if not sides:
        raise ValueError(f"no short side of {sorted(SHORT_SIDES)} lies in [{min_side}, {max_side}]")
    short = int(_choice(rng, sides))
    long = int(round(short * float(_choice(rng, ASPECTS)) / 2)) * 2
    width, height = (short, long) if rng.random() < PORTRAIT_SHARE else (long, short)
    fps = int(_choice(rng, FPS_WEIGHTS))
    num_frames, stride = FRAME_PLANS[fps][int(rng.integers(len(FRAME_PLANS[fps])))]
    return width, height, fps, num_frames, stride


def sample_clip_spec(
    seed: int, index: int, *, max_objects: int = 3, min_side: int = 128, max_side: int = 720
) -> ClipSpec:
    """The clip ``index`` of the dataset ``seed`` (a pure function of its arguments; module docstring).

    ``max_objects``: at most this many objects; ``min_side`` / ``max_side``: the short sides drawn from.
    """
    rng = np.random.default_rng([seed, index, 2])
    width, height, fps, num_frames, stride = _frame_format(rng, min_side, max_side)
    codec = str(_choice(rng, CODEC_WEIGHTS))
    counts = {n: w for n, w in OBJECT_COUNTS.items() if n <= max_objects}
    count = int(_choice(rng, counts))
    while True:
        background = sample_background(rng)
        colours = _object_colours(rng, background, count)
        if colours is not None:
            break
    steps = np.arange(num_frames) / stride
    radii = sorted(rng.uniform(*OBJECT_SIZE, size=count), reverse=True)
    objects = tuple(
        ObjectSpec(str(rng.choice(SHAPES)), colour, float(r), sample_path(rng, str(rng.choice(PATHS)), float(r), steps))
        for colour, r in zip(colours, radii)
    )
    return ClipSpec(seed, index, width, height, fps, num_frames, stride, codec, background, objects)


def silhouettes(spec: ClipSpec, frame: int) -> list[np.ndarray]:
    """Every object's whole drawing in ``frame`` (hidden parts included), bool ``[H, W]`` each."""
    masks = []
    for i in range(len(spec.objects)):
        outline, holes = spec.polygons(i)
        centre = spec.centres(i)[frame]
        masks.append(polygon_mask(spec.width, spec.height, centre + outline, [centre + h for h in holes]))
    return masks


def render_clip(spec: ClipSpec, frames: Sequence[int] | None = None) -> np.ndarray:
    """The written frames (``frames``: those of these indices), uint8 ``[N, H, W, 3]`` (objects drawn last to first)."""
    indices = range(spec.num_frames) if frames is None else list(frames)
    background = render_background(spec.background, spec.width, spec.height)
    out = np.repeat(background[None], len(indices), axis=0)
    for image, f in zip(out, indices):
        for obj, mask in reversed(list(zip(spec.objects, silhouettes(spec, f)))):
            image[mask] = obj.colour
    return out


def clip_truth(spec: ClipSpec, video: str | os.PathLike) -> ClipTruth:
    """The ground truth of a clip written to ``video`` (:mod:`videocomposer.evaluation.truth`)."""
    per_frame = [silhouettes(spec, f) for f in range(spec.num_frames)]
    objects = []
    for i, obj in enumerate(spec.objects):
        geometry = [mask_geometry(masks[i]) for masks in per_frame]
        visible = [
            (masks[i] & ~np.any(masks[:i], axis=0)).sum() / max(1, masks[i].sum()) if i else 1.0 for masks in per_frame
        ]
        outline, holes = spec.polygons(i)
        objects.append(
            ObjectTruth(
                obj.shape,
                obj.colour,
                obj.colour_name,
                obj.path.kind,
                outline,
                holes,
                spec.centres(i),
                np.stack([g[0] for g in geometry]),
                np.stack([g[1] for g in geometry]),
                np.array(visible, dtype=np.float64),
            )
        )
    background = {
        "kind": spec.background.kind,
        "colours": [list(c) for c in spec.background.colours],
        "names": [colour_name(c) for c in spec.background.colours],
    }
    generator = {
        "name": "recipes.toy",
        "world": "v2",
        "seed": spec.seed,
        "index": spec.index,
        "codec": spec.codec,
        "stride": spec.stride,
    }
    return ClipTruth(
        os.fspath(video),
        spec.width,
        spec.height,
        float(spec.fps),
        spec.num_frames,
        spec.caption,
        background,
        objects,
        generator,
    )


def clip_file(folder: str | os.PathLike, seed: int, index: int, **options: int) -> tuple[Path, ClipSpec]:
    """Clip ``index`` of ``seed`` as ``folder/<seed>_<index>.<ext>`` and its truth file ``<seed>_<index>.truth.json``
    (each written unless it exists), and its spec; ``options``: those of :func:`sample_clip_spec`.

    Raises:
        FileExistsError: the folder holds that clip drawn with other options (its truth file says another caption
            or size): write into another folder.
    """
    spec = sample_clip_spec(seed, index, **options)
    path = Path(folder) / f"{seed}_{index:06d}.{CODECS[spec.codec].extension}"
    if truth_path(path).is_file():
        written = read_truth(truth_path(path))
        if (written.caption, written.width, written.height, written.num_frames) != (
            spec.caption,
            spec.width,
            spec.height,
            spec.num_frames,
        ):
            raise FileExistsError(
                f"{path} was drawn with other options than {options or 'the defaults'}: write the "
                "clips into another folder"
            )
    if not path.is_file():
        write_clip(path, render_clip(spec), spec.fps, spec.codec)
    if not truth_path(path).is_file():
        write_truth(truth_path(path), clip_truth(spec, path.resolve()))
    return path, spec
