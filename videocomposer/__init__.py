"""VideoComposer: compositional video synthesis with motion controllability, in PyTorch.

The main entry points are imported lazily (``import videocomposer`` stays cheap)::

    from videocomposer import VideoComposerPipeline, VideoComposerUNet, UNetConfig
    videocomposer.toy_model_dir()  # the built-in toy model (a save_pretrained folder)
"""

from __future__ import annotations

from ._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "VideoComposerPipeline": "videocomposer.pipelines",
    "VideoComposerPipelineOutput": "videocomposer.pipelines",
    "load_preset": "videocomposer.pipelines",
    "available_presets": "videocomposer.pipelines",
    "VideoComposerUNet": "videocomposer.models.unet",
    "UNetConfig": "videocomposer.models.unet",
    "load_video_clip": "videocomposer.video.sampling",
    "ConditionBuilder": "videocomposer.conditions",
    "toy_model_dir": "videocomposer.pipelines.toy_model",
}

__all__ = ["__version__", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)
