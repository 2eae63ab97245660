"""Condition extractors: depth (MiDaS), sketch (PiDiNet + sketch cleaner), inpainting masks, previews.

Motion vectors come from the video stream itself: see :mod:`videocomposer.video.motion`.
"""

from .depth import extract_depth, midas_to_depth
from .masks import draw_dataset_mask, make_irregular_mask, make_rectangle_mask, make_uncrop, masked_condition
from .midas import MiDaS, MidasConfig
from .pidinet import PiDiNet
from .sketch import SketchCleaner, SketchCleanerConfig, extract_sketch, single_sketch
from .visualize import depth_to_rgb, mask_overlay, sketch_to_rgb

__all__ = [
    "MiDaS",
    "MidasConfig",
    "PiDiNet",
    "SketchCleaner",
    "SketchCleanerConfig",
    "depth_to_rgb",
    "draw_dataset_mask",
    "extract_depth",
    "extract_sketch",
    "make_irregular_mask",
    "make_rectangle_mask",
    "make_uncrop",
    "mask_overlay",
    "masked_condition",
    "midas_to_depth",
    "single_sketch",
    "sketch_to_rgb",
]
