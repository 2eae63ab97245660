"""``videocomposer generate``: the command line of a :class:`~videocomposer.app.GenerateRequest`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..app.checks import DTYPES
from ..app.errors import RequestError
from ..app.generation_request import FLAGS, GenerateRequest
from .options import MODEL_SPELLING, add_model_arguments, model_default, request_from

#: Each request field as this command spells it (the task is TASK or a --cfg file).
SPELLING = {**FLAGS, **MODEL_SPELLING, "task": "TASK (or --cfg)"}

DESCRIPTION = """\
Generate a video with the official VideoComposer weights (or any model folder).

Pick a TASK (below) or --cfg FILE.yaml: a task file of this package's format (videocomposer/configs/*.yaml;
'base: <task>' inherits one), or the original repository's task YAML (TASK_TYPE, guidances, read_image, ...),
mapped onto this format with the mapping printed; the original's path configs/<task>.yaml names the task of the
same name. Flags override the task's settings. Outputs go to OUTPUT_DIR/<task>[-<video name>]-S<seed>/:
<run>-S<seed>.mp4 (H.264), <run>-S<seed>_grid.gif (source | conditions | result) and config.yaml (the resolved
settings; its header: this command, the model folder, every weight file read and the command that reruns it,
with absolute paths). An existing result is never replaced unless --overwrite is given.
"""


def _epilog() -> str:
    from ..pipelines.presets import available_presets, load_preset

    listing = "\n".join(f"  {name:40s} {load_preset(name).description}" for name in available_presets())
    return (
        f"tasks:\n{listing}\n\nexample:\n  videocomposer generate exp02_motion_transfer --weights-dir model_weights "
        '--input_video motion.mp4 --image_path first_frame.jpg --input_text_desc "A moon on the water"'
    )


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    from ..conditions import INPUTS

    inputs = parser.add_argument_group("inputs (the reference's flag names; dashed spellings work too)")
    for name in (n for n in INPUTS if n in FLAGS):
        flag = FLAGS[name]
        spellings = [flag, flag.replace("_", "-")] + (["--prompt"] if name == "prompt" else [])
        inputs.add_argument(
            *dict.fromkeys(spellings), dest=name, metavar=flag.lstrip("-").upper(), help=INPUTS[name].help
        )
    inputs.add_argument(
        "--negative_prompt", "--negative-prompt", help="caption of the unconditional pass (default: empty)"
    )


def _add_settings(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    from ..conditions import CONDITIONS
    from ..diffusion import SCHEDULERS
    from ..video.motion import MOTION_MODES

    settings = parser.add_argument_group("settings (override the task)")
    settings.add_argument(
        "--conditions",
        help=f"comma-separated conditions to compose, from {', '.join(CONDITIONS)} "
        "(the reference's names text, mask, depthmap work too)",
    )
    settings.add_argument("--seed", type=int, help="random seed (default: the task's; the reference's 8888)")
    settings.add_argument("--steps", type=int, help=f"denoising steps ({model_default('num_inference_steps', argv)})")
    settings.add_argument(
        "--guidance-scale",
        "--guidance_scale",
        metavar="SCALE",
        help="classifier-free guidance: a number, or a scale per condition, e.g. y=7.5,motion=3 (one "
        "more UNet pass per named condition, guided against a pass without it; the text and "
        f"style not named keep the single scale; {model_default('guidance_scale', argv)})",
    )
    settings.add_argument(
        "--min-guidance-scale",
        "--min_guidance_scale",
        type=float,
        help="guidance of frame 0, ramped linearly to --guidance-scale on the last frame (as Stable "
        f"Video Diffusion; {model_default('min_guidance_scale', argv)})",
    )
    settings.add_argument(
        "--scheduler", choices=sorted(SCHEDULERS), help=f"sampler ({model_default('scheduler', argv)})"
    )
    settings.add_argument("--frames", type=int, help=f"number of frames ({model_default('num_frames', argv)})")
    settings.add_argument("--height", type=int, help=f"video height in pixels ({model_default('height', argv)})")
    settings.add_argument("--width", type=int, help=f"video width in pixels ({model_default('width', argv)})")
    settings.add_argument("--fps", type=float, help="frame rate of the written files (default: the task's, 8)")
    settings.add_argument(
        "--motion-mode",
        "--motion_mode",
        choices=MOTION_MODES,
        help="how the motion condition is made from the video or --trajectory: 'reference' (the "
        "original's: vectors at the source's own size, mostly lost for sources much larger than the "
        "model's videos) or 'rescaled' (the source brought to the model's training size first); "
        "default: the model's own (rescaled for toy, reference for the official weights)",
    )
    settings.add_argument(
        "--noise-warp",
        type=float,
        metavar="GAMMA",
        help="start from noise carried along the motion condition (Go-with-the-Flow), with this share in [0, 1] "
        "of fresh noise per frame (1: plain noise); needs a motion condition in the 'rescaled' mode. Default: plain "
        "noise",
    )
    settings.add_argument(
        "--unet-file",
        "--unet_file",
        help="UNet weights: a file name inside --weights-dir, or the path "
        "of a file (e.g. a fine-tuned runs/<name>/checkpoints/step_<N>/unet.safetensors)",
    )


def configure(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """The options of ``generate``; the model's defaults are shown for the ``--weights-dir`` in ``argv``."""
    from ..pipelines.presets import available_presets

    parser.description, parser.epilog = DESCRIPTION, _epilog()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "task", nargs="?", choices=list(available_presets()), metavar="TASK", help="task preset (see the list below)"
    )
    parser.add_argument("--cfg", help="task YAML file (instead of TASK), as the reference's --cfg")
    _add_inputs(parser)
    _add_settings(parser, argv)
    add_model_arguments(parser)
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        help="autocast precision on accelerators (default float16, as the reference); the CPU always runs float32",
    )
    parser.add_argument("--output-dir", "--output_dir", default="outputs", help="output folder (default: outputs)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing result in the run's folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--save-conditions",
        "--save_conditions",
        action="store_true",
        help="also write <run>-S<seed>_conditions.safetensors: the condition tensors the UNet got "
        "(found by `videocomposer evaluate`)",
    )


def parse_guidance_scale(text: str | None) -> float | dict[str, float] | None:
    """``--guidance-scale``: ``"9"`` → 9.0, ``"y=7.5,motion=3"`` → ``{"y": 7.5, "motion": 3.0}`` (names as typed; the
    request checks them); a :class:`~videocomposer.app.RequestError` for any other text."""
    if text is None:
        return None
    expected = "expected a number (e.g. 9) or condition=scale pairs (e.g. y=7.5,motion=3)"
    if "=" not in text:
        try:
            return float(text)
        except ValueError:
            raise RequestError("guidance_scale", f"{expected}, got {text!r}") from None
    scales: dict[str, float] = {}
    for pair in text.split(","):
        name, _, value = (part.strip() for part in pair.partition("="))
        try:
            if not name or name in scales:
                raise ValueError
            scales[name] = float(value)
        except ValueError:
            raise RequestError(
                "guidance_scale", f"{expected}, each condition once; got {pair.strip()!r} in {text!r}"
            ) from None
    return scales


def to_request(args: argparse.Namespace) -> GenerateRequest:
    """The request a parsed ``generate`` command line describes."""
    if args.task and args.cfg:
        raise ValueError("give either a TASK or --cfg, not both")
    return request_from(
        GenerateRequest,
        args,
        task=args.task or args.cfg,
        progress=not args.quiet,
        guidance_scale=parse_guidance_scale(args.guidance_scale),
    )


def run(args: argparse.Namespace) -> int:
    from ..app.generation import generate

    for path in generate(to_request(args)).files:
        print(path.absolute())
    return 0
