"""The models of an :class:`~videocomposer.app.evaluation_request.EvaluateRequest`: the frozen networks of the
model-based metrics, and I3D with its reference videos for FVD."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checks import existing_file, model_architectures
from .errors import RequestError, mention
from .evaluation_request import EvaluateRequest, RunInput

#: The model-weight fields of an evaluate request, by the model each loads.
MODEL_FIELDS = {
    "clip": "clip_weights",
    "midas": "midas_weights",
    "pidinet": "pidinet_weights",
    "sketch_cleaner": "sketch_cleaner_weights",
}
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def load_models(request: EvaluateRequest) -> Any:
    """The models whose weights are given (a file field, else the official file in ``weights_dir`` if present)
    as :class:`~videocomposer.evaluation.EvaluationModels`; none given: no models."""
    from ..checkpoints import OFFICIAL_FILES
    from ..evaluation.metrics import EvaluationModels

    paths = {name: existing_file(field, getattr(request, field)) for name, field in MODEL_FIELDS.items()}
    if request.weights_dir:
        for name, path in paths.items():
            candidate = Path(request.weights_dir) / OFFICIAL_FILES[name].filename
            paths[name] = path or (candidate if candidate.is_file() else None)
    if not any(paths.values()):
        return EvaluationModels()
    from ..pipelines.components import load_official_component

    config = model_architectures(request.model_config) or {}
    loaded: dict[str, Any] = {}
    for name, path in paths.items():
        if path is not None:
            module = load_official_component(name, path, config.get(name), towers=("text", "image"))
            loaded[name] = module.to(request.device).eval().requires_grad_(False)
    if "clip" in loaded:
        from ..models.tokenizer import CLIPTokenizer

        loaded["tokenizer"] = CLIPTokenizer()
    return EvaluationModels(**loaded)


def fvd_metrics(request: EvaluateRequest, runs: list[RunInput]) -> dict[str, Any]:
    """FVD of the generated set against ``fvd_reference`` videos (else the source clips); keys ``fvd``, ``fvd_protocol``."""
    from ..evaluation.fvd import FeatureCache, fvd, load_i3d

    references = fvd_references(request, runs)
    generated = [r.generated for r in runs]
    extractor = load_i3d(request.i3d, request.device)
    cache = FeatureCache(request.fvd_cache) if request.fvd_cache else None
    frames = request.fvd_frames
    return {
        "fvd": fvd(references, generated, extractor, frames, cache),
        "fvd_protocol": extractor.protocol(frames)
        + f"; {len(references)} reference vs {len(generated)} generated videos",
    }


def fvd_references(request: EvaluateRequest, runs: list[RunInput]) -> list:
    """``fvd_reference`` (a folder of videos), else the source clip of every run (generate's sampling, uint8 frames)."""
    if request.fvd_reference:
        folder = Path(request.fvd_reference)
        videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        if not videos:
            raise RequestError("fvd_reference", f"no videos under {folder}")
        return videos
    from ..evaluation.frames import read_video_frames
    from ..evaluation.metrics import DEFAULT_SEED
    from ..evaluation.records import find_record
    from ..video.sampling import load_video_clip

    clips = []
    for run in runs:
        record = find_record(run.generated)
        source = run.source or (record.metadata.get("source_video") if record else None)
        if not source:
            raise RequestError(
                "fvd_reference",
                f"FVD: no reference for {run.generated}; give {mention('video')}, a CSV "
                f"source column or {mention('fvd_reference')} FOLDER",
            )
        frames = read_video_frames(run.generated)
        recorded = int(record.metadata.get("seed", DEFAULT_SEED)) if record else DEFAULT_SEED
        seed = next(s for s in (request.seed, run.seed, recorded) if s is not None)
        clip = load_video_clip(source, num_frames=len(frames), resolution=frames.shape[1], seed=seed, with_mask=False)
        clips.append(((clip.video.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy())
    return clips
