"""Strokes drawn from the dense motion while training (the ``sparse_stroke_prob`` training key).

At inference a user draws a stroke, and :class:`~videocomposer.video.trajectory.Trajectory` rasterises it as the
codec would: the blocks within the stroke's radius of its point at frame ``f`` carry the point's displacement since
frame ``f - 1``, every other block none. A model trained on dense codec fields alone sees such a field only
approximately. As DragNUWA, MotionCtrl and Tora train on tracks taken from the dense motion, a sample here has, with
probability ``p``, its motion condition replaced by one stroke drawn from it: a start among the moving blocks of
frame 1 (chosen with weight equal to the vector's length), followed through the clip by the field's vector at the
stroke's point, and written back in the condition's own representation (same block sites, same site weights) with a
radius of one to three blocks. The draws are keyed by the sample (reproducible, and exact on resume).
"""

from __future__ import annotations

import torch

from ..video.motion import MACROBLOCK, nearest_block_vectors, site_weights


def stroke_from_motion(motion: torch.Tensor, vector_side: int, generator: torch.Generator) -> torch.Tensor:
    """One stroke drawn from one sample's dense motion condition (module docstring).

    Args:
        motion: ``[2, F, R, R]`` (dx, dy) in pixels of ``vector_side`` frames, as the codec's field gives it.
        vector_side: side of the frames the vectors were taken from (the motion source size).
        generator: source of the draws.

    Returns:
        ``[2, F, R, R]``: the stroke's field in the same representation; the input unchanged when nothing moves.
    """
    resolution = motion.shape[-1]
    weights = site_weights(resolution, vector_side).to(motion)
    block = MACROBLOCK * resolution / vector_side  # a macroblock in condition pixels
    dense = nearest_block_vectors(motion.float().permute(1, 0, 2, 3), vector_side).permute(1, 0, 2, 3)
    speed = dense[:, 1].norm(dim=0).flatten()
    if motion.shape[1] < 2 or not bool((speed > 0).any()):
        return motion
    start = int(torch.multinomial(speed, 1, generator=generator))
    point = torch.tensor([start % resolution, start // resolution], dtype=torch.float32)  # (x, y)
    radius = block * (1.0 + 2.0 * float(torch.rand((), generator=generator)))
    ys, xs = torch.meshgrid(torch.arange(resolution), torch.arange(resolution), indexing="ij")
    stroke = torch.zeros_like(motion)
    for f in range(1, motion.shape[1]):
        x, y = (int(v) for v in point.round().clamp(0, resolution - 1))
        vector = dense[:, f, y, x]
        point = point + vector * (resolution / vector_side)
        near = ((xs - point[0]) ** 2 + (ys - point[1]) ** 2 <= radius**2).to(motion.dtype)
        stroke[:, f] = vector.to(motion.dtype)[:, None, None] * weights * near
    return stroke


def sparse_strokes(motion: torch.Tensor, probability: float, vector_side: int, seeds: list[int]) -> torch.Tensor:
    """Each sample's ``[2, F, R, R]`` of ``motion`` ``[B, 2, F, R, R]`` replaced, with ``probability``, by one stroke
    drawn from it (:func:`stroke_from_motion`); ``seeds``: one per sample, keying its draws."""
    out = motion.clone()
    for b, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(seed)
        if float(torch.rand((), generator=generator)) < probability:
            out[b] = stroke_from_motion(motion[b].cpu(), vector_side, generator).to(motion)
    return out
