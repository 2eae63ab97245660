"""The ``videocomposer ui`` subcommand: serve the app on this machine (127.0.0.1 unless ``--host``)."""
from __future__ import annotations

import argparse
import os

from ..commands.common import UsageError, add_model_arguments


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``--auth user:pass`` → ``(user, pass)``."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise UsageError("--auth must be USER:PASSWORD (both non-empty)")
    return user, password


def run(args: argparse.Namespace) -> int:
    auth = parse_auth(args.auth)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry, no version check
    try:
        import gradio  # noqa: F401  (checked here for a clear message)
    except ImportError as exc:
        raise UsageError(f"videocomposer ui needs gradio ({exc}); install the extra: pip install -e \".[ui]\"") from exc
    from .app import build_app, launch
    from .model import ModelHolder, resolve_model

    holder = ModelHolder(resolve_model(args.weights_dir, args.model_config, args.toy), device=args.device)
    print(f"videocomposer ui: loading {holder.source.kind} model from {holder.source.folder} ...")
    defaults = {**holder.source.form_defaults(),
                **{k: getattr(args, k) for k in ("steps", "frames", "height", "width") if getattr(args, k) is not None}}
    demo = build_app(holder, args.output_dir, defaults)
    print(f"videocomposer ui: jobs are saved under {os.path.abspath(args.output_dir)}; open http://{args.host}:{args.port}")
    launch(demo, args.output_dir, host=args.host, port=args.port, auth=auth)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "ui", help="a local web app: compose a video from any conditions, draw its motion",
        description="Serve a Gradio app on this machine: upload a video and images, draw motion strokes on the first "
                    "frame, preview the conditions, generate. Each job is the `videocomposer generate` command the app "
                    "shows, saved under --output-dir/ui-<date>-<time>/. Needs the ui extra (pip install -e \".[ui]\").")
    add_model_arguments(parser)
    parser.add_argument("--toy", action="store_true", help="the built-in toy model (the default without --weights-dir)")
    parser.add_argument("--output-dir", "--output_dir", default="outputs", help="where jobs are saved (default: outputs)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require this login")
    form = parser.add_argument_group("initial form values (default: the presets')")
    for flag, help_text in (("--steps", "denoising steps"), ("--frames", "frames"), ("--height", "height in pixels"),
                            ("--width", "width in pixels")):
        form.add_argument(flag, type=int, help=help_text)
    parser.set_defaults(func=run)
    return parser
