"""``videocomposer ui``: serve the web app (:mod:`videocomposer.ui`) on this machine (127.0.0.1 unless ``--host``)."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .options import MODEL_SPELLING, add_model_arguments, model_default

if TYPE_CHECKING:
    from ..ui.access import Login

#: Each request field as this command spells it.
SPELLING = dict(MODEL_SPELLING)

#: The command's description, by paragraph (formatted with the default :class:`~videocomposer.ui.access.Limits`).
DESCRIPTION = (
    "Serve a Gradio app on this machine: upload a video and images, draw motion strokes on the first frame, preview "
    "the conditions, generate. Each job is the `videocomposer generate` command the app shows, saved under "
    '--output-dir/ui-<date>-<time>/. Needs the ui extra (pip install -e ".[ui]").',
    "Access: the app listens on 127.0.0.1 (this machine only). Any other --host (0.0.0.0, a network address, a host "
    "name) lets other machines in, so it needs a login, --auth USER:PASSWORD or --auth-file FILE, or an explicit "
    "--allow-unauthenticated; otherwise the command refuses to start.",
    "Limits: each uploaded file at most --max-upload-mb (default {upload} MB; a larger one is refused before it is "
    "stored); the prompt and the negative prompt at most {prompt:,} characters each; the trajectory JSON text (typed, "
    "drawn or loaded) at most {trajectory:,} characters; each job's folder (its copied inputs and outputs) at most "
    "--max-job-mb (default {job} MB): a job over it is removed and reported, and a job starts only while the disk has "
    "that much free. The app shows each job's disk use.",
)
#: The initial form values the command sets, by flag: (request field, the model's setting, help).
FORM_FLAGS = {
    "--steps": ("steps", "num_inference_steps", "denoising steps"),
    "--frames": ("frames", "num_frames", "frames"),
    "--height": ("height", "height", "height in pixels"),
    "--width": ("width", "width", "width in pixels"),
}


def configure(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    from ..ui.access import Limits

    limits = Limits()
    values = dict(
        upload=limits.upload_mb, job=limits.job_mb, prompt=limits.prompt_chars, trajectory=limits.trajectory_chars
    )
    parser.description = "\n\n".join(
        textwrap.fill(p.format(**values), 100, break_on_hyphens=False) for p in DESCRIPTION
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_model_arguments(parser)
    parser.add_argument("--toy", action="store_true", help="the built-in toy model (the default without --weights-dir)")
    parser.add_argument(
        "--output-dir",
        "--output_dir",
        default="outputs",
        help="folder the jobs are saved in, relative to the current folder (default: outputs)",
    )
    access = parser.add_argument_group("access")
    access.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    access.add_argument("--port", type=_port, default=7860, help="port, 1-65535 (default 7860)")
    access.add_argument(
        "--auth",
        metavar="USER:PASSWORD",
        help="require this login (visible to other users of this machine in its "
        "process list: --auth-file keeps it private)",
    )
    access.add_argument("--auth-file", metavar="FILE", help="require a login from this file: one USER:PASSWORD a line")
    access.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="serve a --host other than loopback WITHOUT a login: anyone who reaches the port can run jobs and "
        "download their files",
    )
    limit = parser.add_argument_group("limits")
    limit.add_argument(
        "--max-upload-mb",
        type=_megabytes,
        default=limits.upload_mb,
        metavar="MB",
        help=f"largest uploaded file, in MB (default {limits.upload_mb})",
    )
    limit.add_argument(
        "--max-job-mb",
        type=_megabytes,
        default=limits.job_mb,
        metavar="MB",
        help=f"largest job folder, in MB (default {limits.job_mb})",
    )
    form = parser.add_argument_group("initial form values")
    served = _toy_folder()  # without --weights-dir
    for flag, (field, setting, help_text) in FORM_FLAGS.items():
        default = model_default(setting, argv, fallback=served)
        form.add_argument(flag, dest=field, type=int, help=f"{help_text} ({default})")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}")
    return int(text)


def _megabytes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of megabytes >= 1, got {text!r}")
    return int(text)


def logins(args: argparse.Namespace) -> list[Login]:
    """The logins ``--auth`` and ``--auth-file`` give (none: no login)."""
    from ..ui.access import parse_login, read_auth_file

    given = [parse_login(args.auth)] if args.auth is not None else []
    return given + (read_auth_file(args.auth_file) if args.auth_file is not None else [])


def _toy_folder() -> Path | None:
    """The built-in toy model, served without --weights-dir (None when this installation lacks it)."""
    from ..pipelines.toy_model import toy_model_dir

    try:
        return toy_model_dir()
    except FileNotFoundError:
        return None


def run(args: argparse.Namespace) -> int:
    from ..files import ensure_writable_dir
    from ..ui.access import Limits, check_access, exposure_warning

    allowed = logins(args)
    check_access(args.host, allowed, args.allow_unauthenticated)  # before anything loads
    output_dir = ensure_writable_dir(args.output_dir).absolute()
    limits = Limits(upload_mb=args.max_upload_mb, job_mb=args.max_job_mb)
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
    demo = build_app(holder, output_dir, {**holder.source.form_defaults(), **given}, limits)
    warning = exposure_warning(args.host, allowed)
    if warning:
        print(f"videocomposer ui: {warning}", file=sys.stderr)
    print(f"videocomposer ui: jobs are saved under {output_dir}; open http://{args.host}:{args.port}")
    try:
        launch(
            demo,
            output_dir,
            host=args.host,
            port=args.port,
            auth=allowed,
            limits=limits,
            allow_unauthenticated=args.allow_unauthenticated,
        )
    except OSError as exc:
        reason = str(exc).split(". ")[0].rstrip(".")  # gradio's own advice names its Python arguments
        raise ValueError(
            f"cannot serve on --host {args.host} --port {args.port}: {reason}; choose another --port (or --host)"
        ) from None
    return 0
