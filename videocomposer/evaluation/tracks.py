"""Object tracks from ground truth: does the generated object move, keep its shape and colour, as it should?

The object is found in every generated frame **by its colour**. Its colour is read from a reference
frame (the given first frame, else generated frame 0) where the truth says it is (:func:`colour_model`:
the median CIELAB colour of the pixels around the truth's mask that differ from the background, so that
a first frame showing another object at that place, as in a motion transfer, gives that object's
colour); the colours it must be told apart from are a palette of the reference's background (pixels
away from every object, reduced to :data:`PALETTE_SIZE` colours by farthest-point sampling, so that
gradients and textures are covered) and the other objects' colours. A generated pixel belongs to the object when its colour is nearer to
the object's than to every other colour and within :data:`OBJECT_DELTA_E`; of those pixels, the largest
8-connected region is the object (:func:`track_object`). A frame where no pixel qualifies keeps the
last position found, frame 0 the first-frame image's (a lost object counts as one that stopped).

Metrics (positions in pixels of the generated frames, fractions of their side where stated):

* **track error** (:func:`track_error`): mean over frames ``t ≥ 1`` of ``|(g_t − g_0) − (u_t − u_0)|``
  divided by the side, ``g`` the generated centroid and ``u`` the truth's: 0 when the object moves as
  the truth's, whatever its start; the truth's own displacement when it stays still;
* **stroke gain / direction cosine** (:func:`stroke_following`): the object's displacement from first
  to last frame projected on a drawn stroke, over the stroke's own length (1: followed; 0: no motion
  along it; negative: backwards), and the cosine between the two (0 for an object that does not move);
* **shape IoU** (:func:`shape_iou`): the last frame's mask against the reference's mask moved by the
  generated displacement (1: the object kept its shape);
* **caption colour** (:func:`dominant_colour_name`): the most frequent common colour name
  (:mod:`.colours`) among the pixels that differ from the background by more than
  :data:`BACKGROUND_DELTA_E`.

:func:`truth_metrics` computes them for a generated video from a truth file
(:mod:`.truth`; ``videocomposer evaluate --truth``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ..video.transforms import center_crop_v2
from .colours import COLOUR_NAMES, caption_colour, colour_name_indices, rgb_to_lab
from .truth import ClipTruth, TruthError, check_frames, model_view

#: ΔE (CIE76) within which a generated pixel can be the object's colour.
OBJECT_DELTA_E = 30.0
#: ΔE from every background colour beyond which a pixel counts as an object's (caption colour).
BACKGROUND_DELTA_E = 20.0
#: Colours kept to describe a background (farthest-point sampling of its pixels).
PALETTE_SIZE = 12
#: Least share of a video's pixels that must be object pixels for it to have a dominant colour.
MIN_OBJECT_FRACTION = 0.002


def palette(colours: np.ndarray, size: int = PALETTE_SIZE) -> np.ndarray:
    """Up to ``size`` CIELAB colours that cover sRGB ``colours`` ``[N, 3]``: the median, then repeatedly the
    colour farthest from those chosen (deterministic) → ``[K, 3]`` Lab."""
    lab = rgb_to_lab(np.asarray(colours, dtype=np.float64).reshape(-1, 3))
    if not len(lab):
        return np.zeros((0, 3))
    chosen = [np.median(lab, axis=0)]
    nearest = np.linalg.norm(lab - chosen[0], axis=1)
    while len(chosen) < size and nearest.max() > 1.0:
        chosen.append(lab[int(nearest.argmax())])
        nearest = np.minimum(nearest, np.linalg.norm(lab - chosen[-1], axis=1))
    return np.stack(chosen)


def background_mixes(colours: Sequence[Sequence[float]], steps: int = 9) -> np.ndarray:
    """The sRGB mixes of consecutive ``colours`` (``steps`` per pair, ends included) → ``[K, 3]``: the colours of a
    gradient or texture between them (a truth file's ``background.colours``)."""
    points = np.asarray(colours, dtype=np.float64).reshape(-1, 3)
    if len(points) < 2:
        return points
    weights = np.linspace(0, 1, steps)[:, None]
    return np.concatenate([a + weights * (b - a) for a, b in zip(points[:-1], points[1:])])


@dataclass
class ColourModel:
    """What an object looks like: its CIELAB colour ``object_lab`` ``[3]`` and the colours it is told apart from,
    ``others_lab`` ``[K, 3]`` (background palette and other objects)."""

    object_lab: np.ndarray
    others_lab: np.ndarray

    def object_pixels(self, frame: np.ndarray) -> np.ndarray:
        """uint8 ``[H, W, 3]`` → bool ``[H, W]``: nearer the object's colour than any other, within :data:`OBJECT_DELTA_E`."""
        lab = rgb_to_lab(frame)
        to_object = np.linalg.norm(lab - self.object_lab, axis=-1)
        to_others = (
            np.linalg.norm(lab[..., None, :] - self.others_lab, axis=-1).min(axis=-1)
            if len(self.others_lab)
            else np.full(to_object.shape, np.inf)
        )
        return (to_object < to_others) & (to_object < OBJECT_DELTA_E)


def _erode(mask: np.ndarray, pixels: int = 1) -> np.ndarray:
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((2 * pixels + 1,) * 2, np.uint8)) > 0
    return eroded if eroded.any() else mask


def _dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * pixels + 1,) * 2, np.uint8)) > 0


def surroundings(mask: np.ndarray) -> np.ndarray:
    """A truth mask (bool ``[H, W]``) grown by half the object's size (at least 2 px): where a first frame may show
    the object or another one put in its place; the rest is background."""
    return _dilate(mask, max(2, int(math.ceil(0.5 * math.sqrt(mask.sum())))))


def colour_model(reference: np.ndarray, object_mask: np.ndarray, other_masks: Sequence[np.ndarray] = ()) -> ColourModel:
    """The :class:`ColourModel` of the object the reference (uint8 ``[H, W, 3]``) shows at ``object_mask`` (bool
    ``[H, W]``, where the truth puts it); ``other_masks``: the other objects there.

    The reference may show another object than the truth's (a new first frame for a motion transfer): its colour
    is the median of the pixels around the truth's mask (dilated by half the object's size) that differ from the
    background by more than :data:`BACKGROUND_DELTA_E`; the background palette is read outside that margin.

    Raises:
        ValueError: the object's mask is empty (the object is outside the frame), or the reference shows no object
            there (no pixel there differs from the background and the other objects).
    """
    if not object_mask.any():
        raise ValueError("the object is not in the reference frame (its mask is empty)")
    lab = rgb_to_lab(reference)
    region = surroundings(object_mask)
    background = ~(region | _dilate(np.any([object_mask, *other_masks], axis=0), 2))
    others = np.concatenate(
        [palette(reference[background])] + [np.median(lab[_erode(m)], axis=0)[None] for m in other_masks if m.any()]
    )
    candidates = lab[region & ~np.any(other_masks, axis=0)] if other_masks else lab[region]
    if len(others):
        candidates = candidates[
            np.linalg.norm(candidates[:, None] - others[None], axis=-1).min(axis=1) > BACKGROUND_DELTA_E
        ]
    if not len(candidates):
        raise ValueError(
            "the reference frame does not show the object where the truth puts it (no colour there "
            "differs from the background's): give the first frame the video was generated from"
        )
    return ColourModel(np.median(candidates, axis=0), others)


def largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected region of a bool ``[H, W]`` mask (empty stays empty)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.copy()
    return labels == 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())


def mask_centroid(mask: np.ndarray) -> np.ndarray:
    """Mean pixel centre ``(x, y)`` of a bool ``[H, W]`` mask (pixel ``(i, j)`` at ``(j + 0.5, i + 0.5)``); NaN if empty."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean() + 0.5, rows.mean() + 0.5]) if len(rows) else np.full(2, np.nan)


@dataclass
class ObjectTrack:
    """An object found in every frame: ``masks`` bool ``[F, H, W]``, ``centroids`` ``[F, 2]`` (x, y) pixels
    (a frame without the object repeats the last found position; NaN before the first), ``found`` bool ``[F]``."""

    masks: np.ndarray
    centroids: np.ndarray
    found: np.ndarray


def track_object(frames: np.ndarray, model: ColourModel, start: Sequence[float] | None = None) -> ObjectTrack:
    """Find the object of ``model`` in every frame of uint8 ``[F, H, W, 3]`` (module docstring); ``start``: its place
    when frame 0 does not show it (where the first-frame image has it)."""
    masks = np.stack([largest_region(model.object_pixels(frame)) for frame in frames])
    centroids = np.stack([mask_centroid(m) for m in masks])
    found = masks.any(axis=(1, 2))
    if not found[0] and start is not None:
        centroids[0] = start
    for t in range(1, len(centroids)):
        if not found[t]:
            centroids[t] = centroids[t - 1]
    return ObjectTrack(masks, centroids, found)


def track_error(generated: np.ndarray, truth: np.ndarray, side: float) -> float:
    """Mean over frames ``t ≥ 1`` of ``|(g_t − g_0) − (u_t − u_0)| / side``; ``generated``, ``truth``: ``[F, 2]``
    positions in the same pixels. NaN with fewer than 2 frames or an unknown generated start."""
    generated, truth = np.asarray(generated, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if generated.shape != truth.shape or generated.ndim != 2 or generated.shape[1] != 2:
        raise ValueError(f"generated and truth positions must both be [F, 2], got {generated.shape} and {truth.shape}")
    if len(generated) < 2:
        return math.nan
    error = np.linalg.norm((generated[1:] - generated[0]) - (truth[1:] - truth[0]), axis=1)
    return float(error.mean() / side)


def stroke_following(track: np.ndarray, start: Sequence[float], end: Sequence[float]) -> tuple[float, float]:
    """``(gain, cosine)`` of a track ``[F, 2]`` against a stroke from ``start`` to ``end`` (same pixels): the
    displacement from first to last frame along the stroke over the stroke's length, and the cosine of the two
    (0 when the object does not move).

    Raises:
        ValueError: the stroke has no length.
    """
    stroke = np.asarray(end, dtype=np.float64) - np.asarray(start, dtype=np.float64)
    length = float(np.linalg.norm(stroke))
    if length == 0:
        raise ValueError("a stroke from a point to itself has no direction")
    moved = np.asarray(track, dtype=np.float64)[-1] - np.asarray(track, dtype=np.float64)[0]
    along = float(moved @ stroke) / length
    distance = float(np.linalg.norm(moved))
    return along / length, (along / distance if distance > 0 else 0.0)


def shift_mask(mask: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """A bool ``[H, W]`` mask moved by ``(dx, dy)`` pixels (rounded); what leaves the frame is dropped."""
    dx, dy = int(round(dx)), int(round(dy))
    height, width = mask.shape
    out = np.zeros_like(mask)
    if abs(dx) < width and abs(dy) < height:
        out[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = mask[
            max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)
        ]
    return out


def shape_iou(first: np.ndarray, last: np.ndarray, displacement: Sequence[float]) -> float:
    """IoU of ``last`` and ``first`` moved by ``displacement`` ``(dx, dy)`` (bool ``[H, W]`` masks); NaN when both are empty."""
    moved = shift_mask(first, *displacement)
    union = np.logical_or(moved, last).sum()
    return float(np.logical_and(moved, last).sum() / union) if union else math.nan


def dominant_colour_name(
    frames: np.ndarray, background: np.ndarray | None = None, min_fraction: float = MIN_OBJECT_FRACTION
) -> str | None:
    """The most frequent common colour name among the object pixels of uint8 ``[F, H, W, 3]`` frames, None when
    fewer than ``min_fraction`` of the pixels are object pixels.

    ``background``: sRGB colours of the background, ``[K, 3]`` (any number: pixels, or
    :func:`background_mixes` of a truth file's colours); default: the frames' 2-px borders. Object pixels
    are farther than :data:`BACKGROUND_DELTA_E` from every colour of its :func:`palette`.
    """
    frames = np.asarray(frames)
    if background is None:
        background = np.concatenate(
            [
                frames[:, :2].reshape(-1, 3),
                frames[:, -2:].reshape(-1, 3),
                frames[:, :, :2].reshape(-1, 3),
                frames[:, :, -2:].reshape(-1, 3),
            ]
        )
    colours = palette(background)
    lab = rgb_to_lab(frames.reshape(-1, 3))
    objects = np.linalg.norm(lab[:, None] - colours[None], axis=-1).min(axis=1) > BACKGROUND_DELTA_E
    if objects.sum() < max(1, min_fraction * len(lab)):
        return None
    counts = np.bincount(colour_name_indices(frames.reshape(-1, 3)[objects]), minlength=len(COLOUR_NAMES))
    return list(COLOUR_NAMES)[int(counts.argmax())]


def fit_to_view(image: np.ndarray, side: int) -> np.ndarray:
    """An image brought to the model's view as the pipeline brings a first frame (:func:`center_crop_v2`)."""
    if image.shape[:2] == (side, side):
        return image
    return np.asarray(center_crop_v2(Image.fromarray(image), side))


def follow_object(
    frames: np.ndarray,
    truth: ClipTruth,
    first_frame: int,
    *,
    reference: np.ndarray | None = None,
    object_index: int = 0,
) -> tuple[ObjectTrack, ColourModel, np.ndarray]:
    """Track a truth file's object through square generated frames uint8 ``[F, S, S, 3]`` (the model's view).

    ``first_frame``: the written frame behind generated frame 0, where the truth's masks are read; ``reference``:
    the first-frame image the object's colour is read from (any size, fitted as the pipeline fits it; default:
    generated frame 0). Returns the track, the colour model and the reference as compared (uint8 ``[S, S, 3]``).

    Raises:
        TruthError: no such object. ValueError: frames not square, or the object is not in the view at ``first_frame``.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1] != frames.shape[2]:
        raise ValueError(f"the generated frames must be square, [F, S, S, 3]; got {list(frames.shape)}")
    if not 0 <= object_index < len(truth.objects):
        raise TruthError(f"object {object_index} is not among the truth's {len(truth.objects)} objects")
    side = frames.shape[1]
    view = model_view(truth.width, truth.height, side)
    ref = fit_to_view(np.asarray(reference, dtype=np.uint8), side) if reference is not None else frames[0]
    masks = [truth.object_mask(i, first_frame, view) for i in range(len(truth.objects))]
    model = colour_model(ref, masks[object_index], masks[:object_index] + masks[object_index + 1 :])
    start = mask_centroid(largest_region(model.object_pixels(ref))) if reference is not None else None
    return track_object(frames, model, start), model, ref


def truth_metrics(
    frames: np.ndarray,
    truth: ClipTruth,
    truth_frames: Sequence[int],
    *,
    reference: np.ndarray | None = None,
    caption: str | None = None,
    object_index: int = 0,
) -> dict[str, float]:
    """Track error, shape IoU and (with a ``caption``) caption-colour match of a generated video against a truth file.

    Args:
        frames: uint8 ``[F, S, S, 3]``, the generated video (the model's view of the clip: :func:`~.truth.model_view`).
        truth: the clip's :class:`~.truth.ClipTruth`.
        truth_frames: the written frame behind each generated frame (:func:`~.truth.sampled_truth_frames`).
        reference: the first frame the object's colour is read from (default: generated frame 0), any size.
        caption: the prompt; its first colour word is compared with the video's dominant colour.
        object_index: which of the truth's objects to follow (0: the one on top, named first).
    Returns:
        ``track_error`` (fraction of the side), ``track_found`` (share of frames where the object was found),
        ``shape_iou``, and ``caption_colour_match`` (1.0 or 0.0) when the caption names a colour.
    """
    indices = np.asarray(truth_frames, dtype=np.int64)
    check_frames(truth, indices)
    if len(indices) != len(frames):
        raise TruthError(f"{len(indices)} truth frames for {len(frames)} generated frames")
    track, model, ref = follow_object(frames, truth, int(indices[0]), reference=reference, object_index=object_index)
    side = ref.shape[0]
    view = model_view(truth.width, truth.height, side)
    expected = view.points(truth.objects[object_index].centroid[indices])
    first = largest_region(model.object_pixels(ref))
    moved = np.nan_to_num(track.centroids[-1] - mask_centroid(first))  # never found: the last mask is empty, IoU 0
    metrics = {
        "track_error": track_error(track.centroids, expected, side),
        "track_found": float(track.found.mean()),
        "shape_iou": shape_iou(first, track.masks[-1], moved),
    }
    named = caption_colour(caption) if caption else None
    if named is not None:
        masks = [truth.object_mask(i, int(indices[0]), view) for i in range(len(truth.objects))]
        near_objects = np.any([surroundings(m) for m in masks], axis=0)
        metrics["caption_colour_match"] = float(dominant_colour_name(np.asarray(frames), ref[~near_objects]) == named)
    return metrics
