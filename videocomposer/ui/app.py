"""The Gradio app of ``videocomposer ui``: a form over ``videocomposer generate``, with hand-drawn motion.

Thin by design: every job is the ``generate`` command the form describes (:mod:`videocomposer.ui.jobs`),
run by the CLI's code on the pipeline loaded once (:mod:`videocomposer.ui.model`); the motion strokes are a
:class:`~videocomposer.video.trajectory.Trajectory`. Bad inputs raise ``gr.Error`` with the CLI's message.

API endpoints (for ``gradio_client``): ``/generate`` and ``/preview`` take the form's values in the order
of :data:`FORM_FIELDS`; ``/generate`` returns (video, grid GIF, command, job folder).
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry, no version check

from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from ..commands.common import user_errors
from ..conditions import CONDITIONS
from ..diffusion import SCHEDULERS
from ..pipelines.presets import load_preset
from ..video.trajectory import Stroke, Trajectory, draw_trajectory
from .jobs import FREE_COMPOSITION, SEED_MAX, job_request, preview_conditions, run_generation, trajectory_from_text
from .model import ModelHolder

#: The tasks offered: the single-run presets and free composition.
TASKS = ("exp02_motion_transfer", "exp02_motion_transfer_vs_style", "exp03_sketch2video_style",
         "exp04_sketch2video_wo_style", "exp05_text_depths_wo_style", "exp06_text_depths_vs_style", FREE_COMPOSITION)
#: The values every job endpoint takes, in order (names of :class:`~videocomposer.ui.jobs.JobRequest` fields,
#: uploads by their upload name).
FORM_FIELDS = ("task", "conditions", "prompt", "negative_prompt", "video", "image", "style_image", "sketch", "depth",
               "mask", "trajectory", "steps", "guidance_scale", "min_guidance_scale", "scheduler", "seed", "frames",
               "height", "width")
_UPLOADS = ("video", "image", "style_image", "sketch", "depth", "mask")
DEFAULT_RADIUS = 24
DISPLAY_SIDE = 512


def _request_values(values: tuple) -> dict[str, Any]:
    named = dict(zip(FORM_FIELDS, values))
    named["uploads"] = {name: named.pop(name) for name in _UPLOADS}
    named["conditions"] = list(named["conditions"] or [])
    for key in ("steps", "seed", "frames", "height", "width"):
        named[key] = int(named[key]) if named[key] is not None else named[key]
    if named["min_guidance_scale"] is not None:
        named["min_guidance_scale"] = float(named["min_guidance_scale"])
    return named


def _user_error(exc: Exception) -> gr.Error:
    return gr.Error(str(exc), print_exception=False)


# ---------------------------------------------------------------------------------------------- drawing


def _canvas(image_path: str | None, width: int, height: int) -> tuple[Image.Image | None, int, int]:
    """The first frame (canvas) and its size; without one, a blank canvas of the video size."""
    if image_path:
        with Image.open(image_path) as image:
            return image.convert("RGB"), image.width, image.height
    return None, int(width), int(height)


def _strokes(text: str | None, width: int, height: int) -> Trajectory:
    """The trajectory of the JSON box, on the current canvas (an empty one when the box is empty)."""
    trajectory = trajectory_from_text(text)
    if trajectory is None or (trajectory.width, trajectory.height) != (width, height):
        return Trajectory(width, height, ())
    return trajectory


def _display_scale(width: int, height: int) -> float:
    """Small canvases are shown enlarged (long side DISPLAY_SIDE) so that they can be drawn on."""
    return max(1.0, DISPLAY_SIDE / max(width, height))


def drawing_view(image_path: str | None, text: str | None, frames: int, width: int, height: int) -> Image.Image:
    """The canvas with the strokes drawn on it, enlarged by :func:`_display_scale`."""
    background, w, h = _canvas(image_path, width, height)
    try:
        trajectory = _strokes(text, w, h)
    except ValueError:
        trajectory = Trajectory(w, h, ())
    image = draw_trajectory(trajectory, max(int(frames), 2), background)
    scale = _display_scale(w, h)
    return image.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC) if scale > 1 else image


def add_point(image_path: str | None, text: str | None, radius: float, new_stroke: bool, frames: int, width: int,
              height: int, evt: gr.SelectData) -> tuple[str, Image.Image, bool]:
    """A click on the canvas: the next point of the current stroke (or the first of a new one)."""
    _, w, h = _canvas(image_path, width, height)
    try:
        trajectory = _strokes(text, w, h)
    except ValueError as exc:
        raise _user_error(exc) from exc
    scale = _display_scale(w, h)
    x, y = (round(float(v) / scale, 1) for v in evt.index)
    strokes = list(trajectory.strokes)
    if new_stroke or not strokes:
        strokes.append(Stroke(((x, y),), float(radius)))
    else:
        last = strokes[-1]
        strokes[-1] = Stroke(last.points + ((x, y),), last.radius, last.timing)
    text = Trajectory(w, h, tuple(strokes)).to_json()
    return text, drawing_view(image_path, text, frames, width, height), False


def undo_point(image_path: str | None, text: str | None, frames: int, width: int, height: int) -> tuple[str, Image.Image]:
    _, w, h = _canvas(image_path, width, height)
    strokes = list(_strokes(text, w, h).strokes)
    if strokes:
        last = strokes.pop()
        if len(last.points) > 1:
            strokes.append(Stroke(last.points[:-1], last.radius, last.timing))
    text = Trajectory(w, h, tuple(strokes)).to_json() if strokes else ""
    return text, drawing_view(image_path, text, frames, width, height)


def load_trajectory_file(path: str | None, image_path: str | None, frames: int, width: int, height: int):
    if not path:
        return gr.skip(), gr.skip()
    try:
        text = Trajectory.from_json(Path(path).read_text(encoding="utf-8"), source=Path(path).name).to_json()
    except (ValueError, OSError) as exc:
        raise _user_error(exc) from exc
    return text, drawing_view(image_path, text, frames, width, height)


# ---------------------------------------------------------------------------------------------- the app


def build_app(holder: ModelHolder, output_dir: str | os.PathLike, defaults: dict[str, Any] | None = None) -> gr.Blocks:
    """The Blocks app over ``holder``'s pipeline, writing jobs under ``output_dir``.

    ``defaults``: initial form values (``steps``, ``frames``, ``height``, ``width``, ``guidance_scale``,
    ``min_guidance_scale``, ``scheduler``, ``task``, ``prompt``); the presets' otherwise.
    """
    preset = load_preset(TASKS[0])
    initial = {"task": TASKS[0], "prompt": "", "steps": preset.num_inference_steps, "guidance_scale": preset.guidance_scale,
               "min_guidance_scale": preset.min_guidance_scale, "scheduler": preset.scheduler,
               "frames": preset.num_frames, "height": preset.height,
               "width": preset.width, **(defaults or {})}
    model_line = holder.describe()

    def generate(*values, progress=gr.Progress(track_tqdm=True)):
        try:
            result = run_generation(job_request(_request_values(values)), holder, output_dir)
        except user_errors() as exc:
            raise _user_error(exc) from exc
        return str(result.video), str(result.grid), result.command, str(result.folder)

    def preview(*values, progress=gr.Progress(track_tqdm=True)):
        try:
            return str(preview_conditions(job_request(_request_values(values)), holder, output_dir))
        except user_errors() as exc:
            raise _user_error(exc) from exc

    with gr.Blocks(title="VideoComposer", analytics_enabled=False) as demo:
        gr.Markdown("# VideoComposer\nCompose a video from text, a first frame, a style image, a sketch, depth, "
                    "a mask and motion (from a video, or drawn on the first frame).")
        gr.Markdown(model_line, elem_id="model-in-use")
        with gr.Row():
            with gr.Column(scale=3):
                task = gr.Dropdown(list(TASKS), value=initial["task"], label="Task",
                                   info="a preset of the paper, or free composition of any conditions")
                conditions = gr.CheckboxGroup(list(CONDITIONS), value=["y", "local_image", "motion"],
                                              label="Conditions (free composition)",
                                              visible=initial["task"] == FREE_COMPOSITION)
                prompt = gr.Textbox(label="Prompt", value=initial["prompt"], lines=2, elem_id="prompt")
                negative = gr.Textbox(label="Negative prompt", lines=1)
                with gr.Tabs():
                    with gr.Tab("Source video"):
                        video = gr.Video(label="Source video (motion, depth, sketch, mask, first frame)",
                                         sources=["upload"], elem_id="source-video")
                        preview_button = gr.Button("Preview conditions")
                    with gr.Tab("Images"):
                        with gr.Row():
                            image = gr.Image(label="First frame", type="filepath", sources=["upload"], elem_id="first-frame")
                            style_image = gr.Image(label="Style image", type="filepath", sources=["upload"])
                        with gr.Row():
                            sketch = gr.Image(label="Sketch", type="filepath", sources=["upload"])
                            mask = gr.Image(label="Mask (white = regenerate)", type="filepath", sources=["upload"])
                        depth = gr.File(label="Depth (image, video or .safetensors from extract)", type="filepath")
                    with gr.Tab("Motion (draw)"):
                        gr.Markdown("Click on the first frame to draw a stroke: the first click places the region "
                                    "(a circle of the radius), later clicks its path over the frames. The field "
                                    "replaces the video's motion; preview it with *Preview conditions*.")
                        canvas = gr.Image(label="Canvas (first frame)", interactive=False, elem_id="canvas", height=320,
                                          value=drawing_view(None, None, initial["frames"], initial["width"], initial["height"]))
                        with gr.Row():
                            radius = gr.Slider(4, 128, value=DEFAULT_RADIUS, step=1, label="Region radius (px)")
                            new_stroke_button = gr.Button("New stroke")
                            undo_button = gr.Button("Undo point")
                            clear_button = gr.Button("Clear")
                        new_stroke = gr.State(False)
                        trajectory = gr.Code(label="Trajectory JSON (for --trajectory)", language="json", interactive=True,
                                             elem_id="trajectory")
                        trajectory_file = gr.File(label="Load a trajectory JSON", file_types=[".json"], type="filepath")
                with gr.Accordion("Settings", open=False):
                    with gr.Row():
                        steps = gr.Slider(1, 100, value=initial["steps"], step=1, label="Steps")
                        guidance = gr.Slider(0, 20, value=initial["guidance_scale"], step=0.5, label="Guidance scale")
                        min_guidance = gr.Number(value=initial["min_guidance_scale"], minimum=0,
                                                 label="Frame-0 guidance, rising to the guidance scale (empty: the model's)")
                        scheduler = gr.Dropdown(sorted(SCHEDULERS), value=initial["scheduler"], label="Scheduler")
                    with gr.Row():
                        seed = gr.Number(value=-1, precision=0, minimum=-1, maximum=SEED_MAX, label="Seed (-1 = random)")
                        frames = gr.Slider(2, 32, value=initial["frames"], step=1, label="Frames")
                        height = gr.Slider(32, 512, value=initial["height"], step=16, label="Height")
                        width = gr.Slider(32, 512, value=initial["width"], step=16, label="Width")
                generate_button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=2):
                result_video = gr.Video(label="Result", autoplay=True, loop=True, interactive=False, elem_id="result")
                grid = gr.Image(label="Source | conditions | result", interactive=False, height=200)
                command = gr.Code(label="The same run from the command line", language="shell", interactive=False,
                                  elem_id="command", wrap_lines=True)
                folder = gr.Textbox(label="Saved in", interactive=False)
                conditions_preview = gr.Image(label="Conditions preview (before generating)", interactive=False, height=200)

        form = [task, conditions, prompt, negative, video, image, style_image, sketch, depth, mask, trajectory,
                steps, guidance, min_guidance, scheduler, seed, frames, height, width]
        assert len(form) == len(FORM_FIELDS)
        task.change(lambda t: gr.update(visible=t == FREE_COMPOSITION), task, conditions, api_name=False)
        redraw = [image, trajectory, frames, width, height]
        for source in (image, frames, width, height):
            source.change(drawing_view, redraw, canvas, api_name=False)
        trajectory.blur(drawing_view, redraw, canvas, api_name=False)
        canvas.select(add_point, [image, trajectory, radius, new_stroke, frames, width, height],
                      [trajectory, canvas, new_stroke], api_name=False)
        new_stroke_button.click(lambda: True, None, new_stroke, api_name=False)
        undo_button.click(undo_point, redraw, [trajectory, canvas], api_name=False)
        clear_button.click(lambda *r: ("", drawing_view(r[0], None, *r[2:])), redraw, [trajectory, canvas], api_name=False)
        trajectory_file.upload(load_trajectory_file, [trajectory_file, image, frames, width, height], [trajectory, canvas],
                               api_name=False)
        preview_button.click(preview, form, conditions_preview, api_name="preview")
        generate_button.click(generate, form, [result_video, grid, command, folder], api_name="generate")
    return demo


def launch(demo: gr.Blocks, output_dir: str | os.PathLike, host: str = "127.0.0.1", port: int | None = None,
           auth: tuple[str, str] | None = None, block: bool = True):
    """Queue one job at a time and serve on ``host:port`` (no share link, no telemetry)."""
    demo.queue(default_concurrency_limit=1)
    return demo.launch(server_name=host, server_port=port, auth=auth, share=False, prevent_thread_lock=not block,
                       allowed_paths=[str(Path(output_dir).resolve())], footer_links=["api"], quiet=not block,
                       show_error=True)


__all__ = ["FORM_FIELDS", "TASKS", "build_app", "launch"]
