"""Generation: the diffusers-style pipeline, task presets and tiny official-format test weights."""

from .pipeline import VideoComposerPipeline, VideoComposerPipelineOutput
from .presets import TaskPreset, available_presets, load_preset

__all__ = ["TaskPreset", "VideoComposerPipeline", "VideoComposerPipelineOutput", "available_presets", "load_preset"]
