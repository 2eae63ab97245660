"""The Gradio app of ``videocomposer ui``: a form whose values are a :class:`~videocomposer.app.GenerateRequest`,
with hand-drawn motion.

Every job is that request, run by the application layer on the pipeline loaded once
(:mod:`videocomposer.ui.jobs`, :mod:`videocomposer.ui.model`); the motion strokes are a
:class:`~videocomposer.video.trajectory.Trajectory` (:mod:`videocomposer.ui.drawing`). A bad value raises
``gr.Error`` naming the form's field by its label.

API endpoints (for ``gradio_client``): ``/generate`` and ``/preview`` take the form's values as named
parameters, named as the request's fields (:data:`FORM_FIELDS`; ``motion``: the trajectory JSON text), and one
guidance scale per condition the model serves, ``guidance_scale_<condition>`` (e.g. ``guidance_scale_motion``;
0: guided as by the overall ``guidance_scale``); ``/generate`` returns (video, grid GIF, command, job folder, status:
the job's disk use against its limit).

Limits (:class:`~videocomposer.ui.access.Limits`): each upload, the prompts, the trajectory JSON text and each job's
disk use. :func:`launch` refuses to serve beyond this machine (a host other than loopback) without a login unless
told so (:func:`~videocomposer.ui.access.check_access`).
"""

from __future__ import annotations

import inspect
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry, no version check

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ..app.errors import RequestError, user_errors
from ..app.generation_request import FREE_COMPOSITION
from ..conditions import CONDITIONS
from ..diffusion import SCHEDULERS
from ..files import ensure_writable_dir
from ..pipelines.presets import load_preset
from .access import MB, Limits, Login, check_access
from .drawing import DEFAULT_RADIUS, add_point, drawing_view, load_trajectory_file, undo_point
from .jobs import SEED_MAX, condition_scale_field, form_request, preview_conditions, run_generation
from .model import ModelHolder

#: The tasks offered: the single-run presets and free composition.
TASKS = (
    "exp02_motion_transfer",
    "exp02_motion_transfer_vs_style",
    "exp03_sketch2video_style",
    "exp04_sketch2video_wo_style",
    "exp05_text_depths_wo_style",
    "exp06_text_depths_vs_style",
    FREE_COMPOSITION,
)
#: The form's fields (request fields) and the label of each one's widget: errors name a field by its label.
LABELS = {
    "task": "Task",
    "conditions": "Conditions",
    "prompt": "Prompt",
    "negative_prompt": "Negative prompt",
    "video": "Source video",
    "image": "First frame",
    "style_image": "Style image",
    "sketch": "Sketch",
    "depth": "Depth",
    "mask": "Mask",
    "motion": "Trajectory JSON",
    "steps": "Steps",
    "guidance_scale": "Guidance scale",
    "min_guidance_scale": "Frame-0 guidance",
    "scheduler": "Scheduler",
    "seed": "Seed",
    "frames": "Frames",
    "height": "Height",
    "width": "Width",
}
#: The values every job endpoint takes, by name.
FORM_FIELDS = tuple(LABELS)


def _message(exc: Exception) -> gr.Error:
    text = exc.render(LABELS) if isinstance(exc, RequestError) else str(exc)
    return gr.Error(text, print_exception=False)


def _endpoint(run: Callable[[dict[str, Any]], Any], names: Sequence[str]) -> Callable[..., Any]:
    """``run(values)`` as an API endpoint whose parameters are the form's fields ``names``, by name (each optional)."""

    def endpoint(progress=gr.Progress(track_tqdm=True), **values):
        try:
            return run(values)
        except user_errors() as exc:
            raise _message(exc) from exc

    own = inspect.signature(endpoint).parameters["progress"]
    fields = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in names]
    endpoint.__signature__ = inspect.Signature([own, *fields])  # what gradio reads to name the API's parameters
    return endpoint


def condition_scale_label(condition: str) -> str:
    """The label of a condition's own guidance slider."""
    return f"Guidance of {condition}"


def form_fields(supported: Sequence[str]) -> tuple[str, ...]:
    """The endpoints' parameters: :data:`FORM_FIELDS` and a guidance scale per condition the model serves."""
    return (*FORM_FIELDS, *(condition_scale_field(name) for name in supported))


def _initial(holder: ModelHolder, defaults: dict[str, Any] | None) -> dict[str, Any]:
    preset = load_preset(TASKS[0])
    supported = holder.supported_conditions()
    return {
        "task": TASKS[0],
        "prompt": "",
        "steps": preset.num_inference_steps,
        "guidance_scale": preset.guidance_scale,
        "min_guidance_scale": preset.min_guidance_scale,
        "scheduler": preset.scheduler,
        "frames": preset.num_frames,
        "height": preset.height,
        "width": preset.width,
        "conditions": [c for c in preset.all_conditions() if c in supported],
        "supported": supported,
        **(defaults or {}),
    }


def _inputs(initial: dict[str, Any]) -> dict[str, Any]:
    """The task, the text and the uploads, by request field."""
    form: dict[str, Any] = {}
    form["task"] = gr.Dropdown(
        list(TASKS),
        value=initial["task"],
        label=LABELS["task"],
        info="a preset of the paper, or free composition of any conditions",
    )
    form["conditions"] = gr.CheckboxGroup(
        initial["supported"],
        value=initial["conditions"],
        label=LABELS["conditions"],
        info="the conditions of free composition (those the model serves)",
        visible=initial["task"] == FREE_COMPOSITION,
    )
    form["prompt"] = gr.Textbox(label=LABELS["prompt"], value=initial["prompt"], lines=2, elem_id="prompt")
    form["negative_prompt"] = gr.Textbox(label=LABELS["negative_prompt"], lines=1)
    with gr.Tabs():
        with gr.Tab("Source video"):
            gr.Markdown("The video gives the motion, depth, sketch, mask and first frame the task reads from it.")
            form["video"] = gr.Video(label=LABELS["video"], sources=["upload"], elem_id="source-video")
            form["preview_button"] = gr.Button("Preview conditions")
        with gr.Tab("Images"):
            gr.Markdown("Mask: white = regenerate. Depth: an image, a video or a .safetensors from `extract`.")
            with gr.Row():
                form["image"] = gr.Image(
                    label=LABELS["image"], type="filepath", sources=["upload"], elem_id="first-frame"
                )
                form["style_image"] = gr.Image(label=LABELS["style_image"], type="filepath", sources=["upload"])
            with gr.Row():
                form["sketch"] = gr.Image(label=LABELS["sketch"], type="filepath", sources=["upload"])
                form["mask"] = gr.Image(label=LABELS["mask"], type="filepath", sources=["upload"])
            form["depth"] = gr.File(label=LABELS["depth"], type="filepath")
        with gr.Tab("Motion (draw)"):
            form.update(_drawing(initial))
    return form


def _drawing(initial: dict[str, Any]) -> dict[str, Any]:
    """The canvas and its controls; ``motion`` is the trajectory JSON the clicks write."""
    gr.Markdown(
        "Click on the first frame to draw a stroke: the first click places the region (a circle of the "
        "radius), later clicks its path over the frames. The field replaces the video's motion; preview it "
        "with *Preview conditions*."
    )
    parts = {
        "canvas": gr.Image(
            label="Canvas (first frame)",
            interactive=False,
            elem_id="canvas",
            height=320,
            value=drawing_view(None, None, initial["frames"], initial["width"], initial["height"]),
        )
    }
    with gr.Row():
        parts["radius"] = gr.Slider(4, 128, value=DEFAULT_RADIUS, step=1, label="Region radius (px)")
        parts["new_stroke_button"] = gr.Button("New stroke")
        parts["undo_button"] = gr.Button("Undo point")
        parts["clear_button"] = gr.Button("Clear")
    parts["new_stroke"] = gr.State(False)
    parts["motion"] = gr.Code(label=LABELS["motion"], language="json", interactive=True, elem_id="trajectory")
    parts["trajectory_file"] = gr.File(label="Load a trajectory JSON", file_types=[".json"], type="filepath")
    return parts


def _settings(initial: dict[str, Any]) -> dict[str, Any]:
    """The sampling settings and the video size, by request field."""
    form: dict[str, Any] = {}
    with gr.Accordion("Settings", open=False):
        with gr.Row():
            form["steps"] = gr.Slider(1, 100, value=initial["steps"], step=1, label=LABELS["steps"])
            form["guidance_scale"] = gr.Slider(
                0,
                20,
                value=initial["guidance_scale"],
                step=0.5,
                label=LABELS["guidance_scale"],
                info="overall: the text and style image (≤ 1: none)",
            )
            form["min_guidance_scale"] = gr.Number(
                value=initial["min_guidance_scale"],
                minimum=0,
                label=LABELS["min_guidance_scale"],
                info="rising to the guidance scale on the last frame; empty: the model's",
            )
            form["scheduler"] = gr.Dropdown(sorted(SCHEDULERS), value=initial["scheduler"], label=LABELS["scheduler"])
        with gr.Row():
            for name in initial["supported"]:
                form[condition_scale_field(name)] = gr.Slider(
                    0,
                    20,
                    value=0,
                    step=0.5,
                    label=condition_scale_label(name),
                    info=f"{CONDITIONS[name].description}; 0: as the overall guidance scale (one more pass when set)",
                )
        with gr.Row():
            form["seed"] = gr.Number(
                value=-1, precision=0, minimum=-1, maximum=SEED_MAX, label=LABELS["seed"], info="-1: a random one"
            )
            form["frames"] = gr.Slider(2, 32, value=initial["frames"], step=1, label=LABELS["frames"])
            form["height"] = gr.Slider(32, 512, value=initial["height"], step=16, label=LABELS["height"])
            form["width"] = gr.Slider(32, 512, value=initial["width"], step=16, label=LABELS["width"])
    return form


def _results() -> dict[str, Any]:
    return {
        "video": gr.Video(label="Result", autoplay=True, loop=True, interactive=False, elem_id="result"),
        "grid": gr.Image(label="Source | conditions | result", interactive=False, height=200),
        "command": gr.Code(
            label="The same run from the command line",
            language="shell",
            interactive=False,
            elem_id="command",
            wrap_lines=True,
        ),
        "folder": gr.Textbox(label="Saved in", interactive=False),
        "status": gr.Textbox(label="Job status", interactive=False, elem_id="job-status"),
        "preview": gr.Image(label="Conditions preview (before generating)", interactive=False, height=200),
    }


def _wire_drawing(form: dict[str, Any]) -> None:
    """Redraw the canvas when the first frame, the size or the JSON changes; clicks add points."""
    image, motion, canvas = form["image"], form["motion"], form["canvas"]
    size = [form["frames"], form["width"], form["height"]]
    redraw = [image, motion, *size]
    for source in (image, *size):
        source.change(drawing_view, redraw, canvas, api_name=False)
    motion.blur(drawing_view, redraw, canvas, api_name=False)
    canvas.select(
        add_point,
        [image, motion, form["radius"], form["new_stroke"], *size],
        [motion, canvas, form["new_stroke"]],
        api_name=False,
    )
    form["new_stroke_button"].click(lambda: True, None, form["new_stroke"], api_name=False)
    form["undo_button"].click(undo_point, redraw, [motion, canvas], api_name=False)
    form["clear_button"].click(
        lambda *r: ("", drawing_view(r[0], None, *r[2:])), redraw, [motion, canvas], api_name=False
    )
    form["trajectory_file"].upload(
        load_trajectory_file, [form["trajectory_file"], image, *size], [motion, canvas], api_name=False
    )


def build_app(
    holder: ModelHolder,
    output_dir: str | os.PathLike,
    defaults: dict[str, Any] | None = None,
    limits: Limits = Limits(),
) -> gr.Blocks:
    """The Blocks app over ``holder``'s pipeline, writing jobs under ``output_dir`` (created; a path that is not a
    folder is refused here, before anything is served), the form's text and each job within ``limits``.

    ``defaults``: initial form values by request field (``steps``, ``frames``, ``height``, ``width``,
    ``guidance_scale``, ``min_guidance_scale``, ``scheduler``, ``task``, ``prompt``); the first task's otherwise.
    """
    output_dir = ensure_writable_dir(output_dir).absolute()
    initial = _initial(holder, defaults)
    names = form_fields(initial["supported"])

    def generate(values: dict[str, Any]) -> tuple[str, str, str, str, str]:
        result = run_generation(form_request(values, LABELS["motion"], limits), holder, output_dir, limits)
        return str(result.video), str(result.grid), result.command, str(result.folder), result.status(limits)

    def preview(values: dict[str, Any]) -> str:
        return str(preview_conditions(form_request(values, LABELS["motion"], limits), holder))

    with gr.Blocks(title="VideoComposer", analytics_enabled=False) as demo:
        gr.Markdown(
            "# VideoComposer\nCompose a video from text, a first frame, a style image, a sketch, depth, "
            "a mask and motion (from a video, or drawn on the first frame)."
        )
        gr.Markdown(holder.describe(), elem_id="model-in-use")
        with gr.Row():
            with gr.Column(scale=3):
                form = {**_inputs(initial), **_settings(initial)}
                generate_button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=2):
                results = _results()
        fields = {name: form[name] for name in names}
        form["task"].change(
            lambda t: gr.update(visible=t == FREE_COMPOSITION), form["task"], form["conditions"], api_name=False
        )
        _wire_drawing(form)
        form["preview_button"].click(
            _endpoint(preview, names), inputs_kwargs=fields, outputs=results["preview"], api_name="preview"
        )
        generate_button.click(
            _endpoint(generate, names),
            inputs_kwargs=fields,
            outputs=[results[k] for k in ("video", "grid", "command", "folder", "status")],
            api_name="generate",
        )
    return demo


def launch(
    demo: gr.Blocks,
    output_dir: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int | None = None,
    auth: Sequence[Login] = (),
    block: bool = True,
    limits: Limits = Limits(),
    allow_unauthenticated: bool = False,
):
    """Queue one job at a time and serve on ``host:port`` (no share link, no telemetry), behind the ``auth`` logins;
    uploads over ``limits.upload_mb`` are refused. A host other than loopback needs a login or
    ``allow_unauthenticated`` (:func:`~videocomposer.ui.access.check_access`)."""
    check_access(host, auth, allow_unauthenticated)
    demo.queue(default_concurrency_limit=1)
    return demo.launch(
        server_name=host,
        server_port=port,
        auth=list(auth) or None,
        max_file_size=limits.upload_mb * MB,
        share=False,
        prevent_thread_lock=not block,
        allowed_paths=[str(Path(output_dir).resolve())],
        footer_links=["api"],
        quiet=not block,
        show_error=True,
    )


__all__ = ["FORM_FIELDS", "LABELS", "TASKS", "build_app", "condition_scale_label", "form_fields", "launch"]
