"""``videocomposer ui``: serve the web app (:mod:`videocomposer.ui`) on this machine (127.0.0.1 unless ``--host``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from .options import MODEL_SPELLING, add_model_arguments, model_default

#: Each request field as this command spells it.
SPELLING = dict(MODEL_SPELLING)

DESCRIPTION = (
    "Serve a Gradio app on this machine: upload a video and images, draw motion strokes on the first "
    "frame, preview the conditions, generate. Each job is the `videocomposer generate` command the app "
    'shows, saved under --output-dir/ui-<date>-<time>/. Needs the ui extra (pip install -e ".[ui]").'
)
#: The initial form values the command sets, by flag: (request field, the model's setting, help).
FORM_FLAGS = {
    "--steps": ("steps", "num_inference_steps", "denoising steps"),
    "--frames": ("frames", "num_frames", "frames"),
    "--height": ("height", "height", "height in pixels"),
    "--width": ("width", "width", "width in pixels"),
}


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``--auth user:pass`` → ``(user, pass)``."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth must be USER:PASSWORD (both non-empty)")
    return user, password


def configure(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    parser.description = DESCRIPTION
    add_model_arguments(parser)
    parser.add_argument("--toy", action="store_true", help="the built-in toy model (the default without --weights-dir)")
    parser.add_argument(
        "--output-dir", "--output_dir", default="outputs", help="where jobs are saved (default: outputs)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require this login")
    form = parser.add_argument_group("initial form values")
    served = _toy_folder()  # without --weights-dir
    for flag, (field, setting, help_text) in FORM_FLAGS.items():
        default = model_default(setting, argv, fallback=served)
        form.add_argument(flag, dest=field, type=int, help=f"{help_text} ({default})")


def _toy_folder() -> Path | None:
    """The built-in toy model, served without --weights-dir (None when this installation lacks it)."""
    from ..pipelines.toy_model import toy_model_dir

    try:
        return toy_model_dir()
    except FileNotFoundError:
        return None


def run(args: argparse.Namespace) -> int:
    auth = parse_auth(args.auth)
    os.environ.setdefault(
        "GRADIO_ANALYTICS_ENABLED", "False"
    )  # before gradio is imported: no telemetry, no version check
    try:
        import gradio  # noqa: F401  (checked here for a clear message)
    except ImportError as exc:
        raise ValueError(f'videocomposer ui needs gradio ({exc}); install the extra: pip install -e ".[ui]"') from exc
    from ..ui.app import build_app, launch
    from ..ui.model import ModelHolder, resolve_model

    holder = ModelHolder(resolve_model(args.weights_dir, args.model_config, args.toy), device=args.device)
    print(f"videocomposer ui: loading {holder.source.kind} model from {holder.source.folder} ...")
    given = {field: getattr(args, field) for field, _, _ in FORM_FLAGS.values() if getattr(args, field) is not None}
    demo = build_app(holder, args.output_dir, {**holder.source.form_defaults(), **given})
    print(
        f"videocomposer ui: jobs are saved under {os.path.abspath(args.output_dir)}; open http://{args.host}:{args.port}"
    )
    launch(demo, args.output_dir, host=args.host, port=args.port, auth=auth)
    return 0
