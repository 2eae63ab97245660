"""VideoComposerPipeline end to end on tiny random weights written in the OFFICIAL file formats.

The weights go through ``from_official`` exactly like the published files; every task preset runs;
save/load round-trips; each memory/speed option gives the same output; errors name what to fix.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch
from PIL import Image

from videocomposer.annotators.sketch import SketchCleaner, SketchCleanerConfig
from videocomposer.checkpoints import WeightFileError
from videocomposer.diffusion import SchedulerConfig
from videocomposer.pipelines import VideoComposerPipeline, available_presets, load_preset
from videocomposer.pipelines.demo import make_demo_video
from videocomposer.pipelines.tiny import tiny_configs, write_tiny_official_weights

SIZE, FRAMES, STEPS = 32, 2, 2  # latent 4x4; the STC encoders pool to 4x the latent size


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_official_weights")
    write_tiny_official_weights(folder, seed=0)
    return folder


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    frames = make_demo_video(folder / "clip.mp4", num_frames=24, height=48, width=64)
    sketch = Image.new("RGB", (64, 64), "white")
    sketch.paste((0, 0, 0), (20, 10, 24, 54))
    return {"video": folder / "clip.mp4", "image": frames[0], "style_image": frames[-1], "sketch": sketch}


@pytest.fixture(scope="module")
def pipe(weights_dir):
    pipe = VideoComposerPipeline.from_official(weights_dir, config=tiny_configs())
    pipe.set_progress_bar_config(disable=True)
    pipe.misc_size = 64  # annotator frames (multiple of 32 for MiDaS); keeps the tests fast
    return pipe


def generate(pipe, media=None, **kwargs):
    args = dict(
        num_frames=FRAMES,
        height=SIZE,
        width=SIZE,
        num_inference_steps=STEPS,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    )
    args.update(kwargs)
    return pipe("a red ball", **args)


# ------------------------------------------------------------------ loading


def test_from_official_loads_only_what_the_conditions_need(weights_dir):
    pipe = VideoComposerPipeline.from_official(weights_dir, conditions=["text", "depthmap"], config=tiny_configs())
    assert sorted(pipe.components()) == ["clip", "midas", "unet", "vae"]
    assert pipe.clip.towers == ("text",) and pipe.scheduler_config == SchedulerConfig()  # the official model's sampling
    with torch.no_grad():  # zero_y is the empty caption's embedding, not zeros
        assert torch.allclose(pipe.unet.zero_y, pipe.builder().encode_prompt(""))
    full = VideoComposerPipeline.from_official(weights_dir, conditions=["image", "sketch"], config=tiny_configs())
    assert full.clip.towers == ("text", "image") and full.pidinet is not None and full.midas is None


def test_missing_weight_file_names_file_folder_and_source(tmp_path):
    write_tiny_official_weights(tmp_path, components=["unet", "vae", "clip"])
    VideoComposerPipeline.from_official(tmp_path, conditions=["y", "motion"], config=tiny_configs())  # enough files
    with pytest.raises(WeightFileError) as error:
        VideoComposerPipeline.from_official(tmp_path, conditions=["y", "depth"], config=tiny_configs())
    message = str(error.value)
    assert "midas_v3_dpt_large.pth" in message and str(tmp_path.resolve()) in message and "modelscope" in message
    with pytest.raises(FileNotFoundError, match="weights folder not found"):
        VideoComposerPipeline.from_official(tmp_path / "nope")


def test_truncated_or_mismatched_files_are_reported(tmp_path):
    write_tiny_official_weights(tmp_path, components=["unet", "vae", "clip"])
    unet_file = tmp_path / "non_ema_228000.pth"
    state = torch.load(unet_file, weights_only=True)
    state["renamed.weight"] = state.pop("out.2.weight")
    torch.save(state, unet_file)
    with pytest.raises(WeightFileError) as error:
        VideoComposerPipeline.from_official(tmp_path, conditions=["y"], config=tiny_configs())
    assert (
        "out.2.weight" in str(error.value)
        and "renamed.weight" in str(error.value)
        and "non_ema_228000.pth" in str(error.value)
    )
    unet_file.write_bytes(unet_file.read_bytes()[:1000])
    with pytest.raises(WeightFileError, match="truncated or corrupt"):
        VideoComposerPipeline.from_official(tmp_path, conditions=["y"], config=tiny_configs())
    # the official UNet architecture does not fit the tiny file: the error lists shape mismatches
    write_tiny_official_weights(tmp_path, components=["unet"])
    with pytest.raises(WeightFileError, match="shape mismatches|missing keys"):
        VideoComposerPipeline.from_official(tmp_path, conditions=["y"], config={**tiny_configs(), "unet": None})


def test_official_formats_are_the_published_containers(weights_dir):
    assert isinstance(torch.load(weights_dir / "v2-1_512-ema-pruned.ckpt", weights_only=True)["state_dict"], dict)
    vae_keys = torch.load(weights_dir / "v2-1_512-ema-pruned.ckpt", weights_only=True)["state_dict"]
    assert all(k.startswith("first_stage_model.") for k in vae_keys)
    assert "first_stage_model.encoder.down.0.block.0.conv1.weight" in vae_keys
    assert vae_keys["first_stage_model.decoder.mid.attn_1.q.weight"].ndim == 4  # 1x1 conv, as in LDM
    pidinet = torch.load(weights_dir / "table5_pidinet.pth", weights_only=True)["state_dict"]
    assert all(k.startswith("module.") for k in pidinet) and all(v.shape[-2:] != (5, 5) for v in pidinet.values())
    clip = torch.load(weights_dir / "open_clip_pytorch_model.bin", weights_only=True)
    assert "visual.proj" in clip and "text_projection" in clip
    unet = torch.load(weights_dir / "non_ema_228000.pth", weights_only=True)  # flat, unprefixed, as published
    assert "state_dict" not in unet and "input_blocks.0.0.weight" in unet


def test_tiny_sketch_cleaner_file_is_the_official_layout_at_the_tiny_width(weights_dir, pipe):
    cleaner = torch.load(weights_dir / "sketch_simplification_gan.pth", weights_only=True)
    with torch.device("meta"):
        official, tiny = SketchCleaner().state_dict(), SketchCleaner(SketchCleanerConfig.tiny()).state_dict()
    assert list(cleaner) == list(official)  # flat, layers.<i>.*, as published
    assert {k: v.shape for k, v in cleaner.items()} == {k: v.shape for k, v in tiny.items()}
    assert pipe.sketch_cleaner.config == SketchCleanerConfig.tiny()


# ------------------------------------------------------------------ every task preset


def _preset_inputs(preset, media):
    given = {k: media[k] for k in preset.requires}
    needs_video = any(c in ("masked", "depth", "motion", "sketch") for c in preset.all_conditions())
    if needs_video or ("local_image" in preset.all_conditions() and "image" not in given):
        given["video"] = media["video"]
    if "image" in preset.all_conditions() and "style_image" not in given and "video" not in given:
        given["video"] = media["video"]
    if "single_sketch" in preset.all_conditions() and "sketch" not in given and "video" not in given:
        given["video"] = media["video"]
    return given


@pytest.mark.parametrize("name", list(available_presets()))
def test_every_task_preset_generates(pipe, media, name):
    preset = load_preset(name)
    given = _preset_inputs(preset, media)
    prepared = pipe.prepare_conditions(
        preset.all_conditions(),
        prompt=preset.prompt,
        num_frames=FRAMES,
        height=SIZE,
        width=SIZE,
        seed=preset.seed,
        **given,
    )
    for run, conditions in preset.runs().items():
        out = generate(
            pipe,
            conditions=conditions,
            precomputed_conditions={c: prepared.conditions[c] for c in conditions},
            guidance_scale=preset.guidance_scale,
            scheduler=preset.scheduler,
        )
        assert out.frames.shape == (1, FRAMES, SIZE, SIZE, 3), run
        assert np.isfinite(out.frames).all() and 0 <= out.frames.min() and out.frames.max() <= 1
        assert list(out.conditions) == conditions


def test_video_input_path_end_to_end(pipe, media):
    out = generate(
        pipe,
        video=media["video"],
        image=media["image"],
        conditions=["y", "local_image", "motion", "masked"],
        output_type="pil",
    )
    assert len(out.frames) == 1 and len(out.frames[0]) == FRAMES and out.frames[0][0].size == (SIZE, SIZE)
    assert out.source.shape == (1, 3, FRAMES, 64, 64)
    assert out.conditions["motion"].shape[2] == FRAMES


# ------------------------------------------------------------------ save / load, options, determinism


def test_save_pretrained_round_trip_is_identical(pipe, media, tmp_path):
    folder = pipe.save_pretrained(tmp_path / "pretrained")
    assert (folder / "model_index.json").is_file() and (folder / "unet" / "model.safetensors").is_file()
    assert (folder / "vae" / "config.json").is_file()
    assert SchedulerConfig.from_json_file(folder / "scheduler" / "scheduler_config.json") == pipe.scheduler_config
    index = json.loads((folder / "model_index.json").read_text())  # the size there, the sampling in the scheduler
    assert index["scheduler"] == ["videocomposer.diffusion", "SchedulerConfig"]
    assert set(index["pipeline_config"]) == {
        "num_frames",
        "height",
        "width",
        "misc_size",
        "unet_file",
        "motion_condition",
    }
    described = json.loads((folder / "sketch_cleaner" / "config.json").read_text())
    assert described == {"_class_name": "SketchCleaner", "config": asdict(pipe.sketch_cleaner.config)}
    loaded = VideoComposerPipeline.from_pretrained(folder)
    assert loaded.sketch_cleaner.config == pipe.sketch_cleaner.config == SketchCleanerConfig.tiny()
    loaded.set_progress_bar_config(disable=True)
    loaded.misc_size = pipe.misc_size
    kwargs = dict(video=media["video"], style_image=media["style_image"], conditions=["y", "image", "depth", "sketch"])
    assert np.array_equal(generate(loaded, **kwargs).frames, generate(pipe, **kwargs).frames)
    assert VideoComposerPipeline.load(folder).components().keys() == loaded.components().keys()


def test_prediction_type_and_schedule_are_saved_with_the_model(weights_dir, tmp_path):
    """A v-prediction, zero-terminal-SNR model keeps both through save/load, and sampling uses them: the loaded
    pipeline's latents equal the sampler's run with the two settings, not the ε default."""
    from videocomposer.diffusion import NoiseSchedule, sample

    pipe = VideoComposerPipeline.from_official(weights_dir, conditions=["y"], config=tiny_configs())
    pipe.scheduler_config = replace(pipe.scheduler_config, prediction_type="v_prediction", zero_terminal_snr=True)
    loaded = VideoComposerPipeline.from_pretrained(pipe.save_pretrained(tmp_path / "v_model"))
    assert loaded.prediction_type == "v_prediction" and loaded.schedule.zero_terminal_snr
    loaded.set_progress_bar_config(disable=True)
    kwargs = dict(
        prompt="a red circle",
        num_frames=FRAMES,
        height=SIZE,
        width=SIZE,
        num_inference_steps=STEPS,
        guidance_scale=None,
        output_type="latent",
    )
    got = loaded(generator=torch.Generator().manual_seed(0), **kwargs).frames
    x_T = loaded.prepare_latents(1, FRAMES, SIZE, SIZE, torch.Generator().manual_seed(0), None)
    y = {"y": loaded.builder().encode_prompt("a red circle")}
    for prediction_type, schedule, same in (
        ("v_prediction", NoiseSchedule.for_training(True), True),
        ("epsilon", NoiseSchedule.linear_sd(), False),
    ):
        expected = sample(loaded.unet, x_T, y, num_steps=STEPS, schedule=schedule, prediction_type=prediction_type)
        assert torch.allclose(got, expected, atol=1e-5) == same
    with pytest.raises(ValueError, match="prediction_type"):
        SchedulerConfig(prediction_type="x0")
    with pytest.raises(
        AttributeError, match=r"dataclasses.replace\(pipe.scheduler_config, prediction_type='epsilon'\)"
    ):
        loaded.prediction_type = "epsilon"  # a read-only view: the error says how to change it
    saved = tmp_path / "v_model" / "scheduler" / "scheduler_config.json"
    saved.write_text(saved.read_text().replace('"v_prediction"', '"x0"'))
    with pytest.raises(
        ValueError, match=r"scheduler_config.json: prediction_type: expected one of epsilon, v_prediction, got 'x0'"
    ):
        VideoComposerPipeline.from_pretrained(tmp_path / "v_model")


def test_noise_correlation_is_saved_with_the_model_and_draws_x_T(weights_dir, tmp_path):
    """A model trained on frame-correlated noise keeps its correlation through save/load; its ``x_T`` is
    :func:`frame_noise` of that correlation (the official model's stays ``torch.randn``), and the sampler
    starts from it; a bad value in ``scheduler_config.json`` is refused naming the file."""
    from videocomposer.diffusion import frame_noise

    pipe = VideoComposerPipeline.from_official(weights_dir, conditions=["y"], config=tiny_configs())
    shape = (2, 4, FRAMES, SIZE // 8, SIZE // 8)
    assert pipe.noise_correlation == 0.0
    assert torch.equal(
        pipe.prepare_latents(2, FRAMES, SIZE, SIZE, torch.Generator().manual_seed(0), None),
        torch.randn(shape, generator=torch.Generator().manual_seed(0)),
    )
    pipe.scheduler_config = replace(pipe.scheduler_config, noise_correlation=0.5)
    loaded = VideoComposerPipeline.from_pretrained(pipe.save_pretrained(tmp_path / "correlated"))
    assert loaded.noise_correlation == 0.5
    x_T = loaded.prepare_latents(2, FRAMES, SIZE, SIZE, torch.Generator().manual_seed(0), None)
    assert torch.equal(x_T, frame_noise(shape, 0.5, torch.Generator().manual_seed(0)))
    loaded.set_progress_bar_config(disable=True)
    kwargs = dict(
        prompt="a red circle",
        num_frames=FRAMES,
        height=SIZE,
        width=SIZE,
        num_inference_steps=STEPS,
        guidance_scale=None,
        output_type="latent",
    )
    got = loaded(generator=torch.Generator().manual_seed(0), **kwargs).frames
    start = loaded.prepare_latents(1, FRAMES, SIZE, SIZE, torch.Generator().manual_seed(0), None)
    assert torch.equal(got, loaded(latents=start, **kwargs).frames)
    assert not torch.allclose(
        got,
        loaded(latents=torch.randn(start.shape, generator=torch.Generator().manual_seed(0)), **kwargs).frames,
        atol=1e-3,
    )
    saved = tmp_path / "correlated" / "scheduler" / "scheduler_config.json"
    saved.write_text(saved.read_text().replace('"noise_correlation": 0.5', '"noise_correlation": 1.5'))
    with pytest.raises(ValueError, match=r"scheduler_config.json: noise_correlation must be in \[0, 1\), got 1.5"):
        VideoComposerPipeline.from_pretrained(tmp_path / "correlated")


def test_empty_caption_of_zeros_reaches_the_unconditional_pass_and_is_saved_with_the_model(weights_dir, tmp_path):
    """``empty_caption``: the official model's empty caption is the text tower's embedding of ""; a model whose
    training dropped captions to zeros (``"zeros"``) gets a zero context in the unconditional pass (and in a call
    without a caption, ``unet.empty_caption()``); the setting survives save/load; bad values are refused, naming
    the file."""
    pipe = VideoComposerPipeline.from_official(weights_dir, conditions=["y"], config=tiny_configs())
    pipe.set_progress_bar_config(disable=True)
    encoded = pipe.builder().encode_prompt("")
    assert pipe.empty_caption == "encoded" and torch.equal(pipe.unet.empty_caption(), encoded)
    assert encoded.abs().amax() > 0.1  # not zeros already, so the assertions below can fail

    def unconditional_contexts(model):
        seen = []  # the text context of every UNet call: the conditional pass, then the unconditional one
        hook = model.unet.register_forward_pre_hook(
            lambda module, args, kwargs: seen.append(kwargs["y"].clone()), with_kwargs=True
        )
        try:
            generate(model, guidance_scale=3.0)
        finally:
            hook.remove()
        caption = model.builder().encode_prompt("a red ball")
        assert any(torch.equal(y, caption) for y in seen)
        return [y for y in seen if not torch.equal(y, caption)]

    assert all(torch.equal(y, encoded) for y in unconditional_contexts(pipe))
    pipe.scheduler_config = replace(pipe.scheduler_config, empty_caption="zeros")
    loaded = VideoComposerPipeline.from_pretrained(pipe.save_pretrained(tmp_path / "zeros"))
    loaded.set_progress_bar_config(disable=True)
    assert loaded.empty_caption == "zeros" and not loaded.unet.empty_caption().any()
    contexts = unconditional_contexts(loaded)
    assert contexts and all(not y.any() for y in contexts)
    loaded.scheduler_config = replace(loaded.scheduler_config, empty_caption="encoded")
    assert torch.equal(loaded.unet.empty_caption(), encoded)
    with pytest.raises(ValueError, match="empty_caption must be one of encoded, zeros, got 'blank'"):
        replace(loaded.scheduler_config, empty_caption="blank")
    saved = tmp_path / "zeros" / "scheduler" / "scheduler_config.json"
    saved.write_text(saved.read_text().replace('"empty_caption": "zeros"', '"empty_caption": "blank"'))
    with pytest.raises(
        ValueError,
        match=r"scheduler_config.json: empty_caption must be one of encoded, "
        r"zeros, got 'blank'",
    ):
        VideoComposerPipeline.from_pretrained(tmp_path / "zeros")


def test_min_guidance_scale_ramps_the_guidance_and_is_saved_with_the_model(pipe, tmp_path):
    """``min_guidance_scale`` equal to ``guidance_scale`` is the single scale; a lower one changes frame 0 most
    (its guidance drops furthest); a saved default is used when the argument is not given; bad values are refused."""
    kwargs = dict(conditions=["y"], num_frames=3, output_type="latent", guidance_scale=9.0)
    single = generate(pipe, **kwargs).frames
    assert torch.equal(generate(pipe, min_guidance_scale=9.0, **kwargs).frames, single)
    ramped = generate(pipe, min_guidance_scale=1.0, **kwargs).frames
    change = (ramped - single).abs().flatten(3).amax(-1)[0].amax(0)  # per frame
    assert change[0] > change[-1] and change[0] > 0
    assert pipe.defaults["min_guidance_scale"] is None  # the official model: one scale, as the reference
    official = pipe.scheduler_config
    try:
        pipe.scheduler_config = replace(official, min_guidance_scale=1.0)
        assert torch.equal(generate(pipe, **kwargs).frames, ramped)
        folder = pipe.save_pretrained(tmp_path / "ramped")
    finally:
        pipe.scheduler_config = official
    assert VideoComposerPipeline.from_pretrained(folder).defaults["min_guidance_scale"] == 1.0
    with pytest.raises(ValueError, match=r"sampling settings, held by pipe.scheduler_config"):
        pipe.set_defaults(min_guidance_scale=1.0)
    for bad in (-1.0, 10.0):
        with pytest.raises(ValueError, match="min_guidance_scale .* must be between 0 and guidance_scale"):
            generate(pipe, min_guidance_scale=bad, **kwargs)
    generate(pipe, min_guidance_scale=10.0, **{**kwargs, "guidance_scale": None})  # no guidance: nothing to ramp


def unet_calls(pipe, **kwargs):
    """The latents of a generation and the UNet calls it made."""
    calls = []
    hook = pipe.unet.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape[0]))
    try:
        return generate(pipe, **kwargs).frames, len(calls)
    finally:
        hook.remove()


def test_guidance_scale_per_condition(pipe, media):
    """``guidance_scale={...}``: naming only the text at the single scale (or nothing: the model's) gives the single
    scale's latents exactly, with as many UNet passes; each further named condition adds one pass per step; the
    motion at 1.0 is the single scale up to rounding, above 1 it moves the result; bad scales are refused."""
    kwargs = dict(video=media["video"], conditions=["y", "motion"], output_type="latent", guidance_scale=9.0)
    single, single_calls = unet_calls(pipe, **kwargs)
    assert single_calls == 2 * STEPS
    for same in ({"y": 9.0}, {"text": 9.0}, {}):
        latents, calls = unet_calls(pipe, **{**kwargs, "guidance_scale": same})
        assert torch.equal(latents, single) and calls == single_calls
    neutral, calls = unet_calls(pipe, **{**kwargs, "guidance_scale": {"y": 9.0, "motion": 1.0}})
    assert calls == 3 * STEPS
    assert (neutral - single).abs().max() <= 1e-4 * single.abs().max()
    pushed, _ = unet_calls(pipe, **{**kwargs, "guidance_scale": {"motion": 4.0}})  # the text at the model's 9.0
    assert (pushed - single).abs().max() > 1e-2 * single.abs().max()
    ramped, _ = unet_calls(pipe, **{**kwargs, "guidance_scale": {"motion": 4.0}, "min_guidance_scale": 1.0})
    change = (ramped - pushed).abs().flatten(3).amax(-1)[0].amax(0)  # per frame: frame 0's scales drop furthest
    assert change[0] > change[-1]
    for bad, message in (
        ({"colour": 2.0}, "guidance_scale: unknown condition 'colour'"),
        ({"depth": 2.0}, r"names \['depth'\], which are not among the conditions used"),
        ({"motion": -1.0}, "the scale of 'motion' must be a number >= 0, got -1.0"),
        ({"motion": "3"}, "must be a number >= 0, got '3'"),
    ):
        with pytest.raises(ValueError, match=message):
            generate(pipe, **{**kwargs, "guidance_scale": bad})


def test_seed_and_latents_make_runs_reproducible(pipe):
    a = generate(pipe, output_type="latent")
    b = generate(pipe, output_type="latent")
    c = generate(pipe, output_type="latent", generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.frames, b.frames) and not torch.allclose(a.frames, c.frames)
    noise = torch.randn((1, 4, FRAMES, SIZE // 8, SIZE // 8), generator=torch.Generator().manual_seed(0))
    assert torch.equal(generate(pipe, latents=noise, generator=None, output_type="latent").frames, a.frames)


def test_output_types(pipe):
    latent = generate(pipe, output_type="latent").frames
    pt = generate(pipe, output_type="pt").frames
    np_frames = generate(pipe, output_type="np").frames
    assert latent.shape == (1, 4, FRAMES, SIZE // 8, SIZE // 8)
    assert pt.shape == (1, FRAMES, 3, SIZE, SIZE)
    assert np.allclose(np_frames, pt.permute(0, 1, 3, 4, 2).numpy())
    assert torch.allclose(pipe.decode_latents(latent).permute(0, 2, 1, 3, 4), pt)


def test_batched_cfg_is_output_equivalent(pipe, media):
    kwargs = dict(video=media["video"], conditions=["y", "image", "motion"], output_type="latent")
    try:
        pipe.batched_cfg = False
        sequential = generate(pipe, **kwargs).frames
        pipe.batched_cfg = True
        batched = generate(pipe, **kwargs).frames
    finally:
        pipe.batched_cfg = None
    # float32 kernels differ with the batch size (~1e-6 on ε), amplified by the guidance scale 9
    assert (sequential - batched).abs().max() <= 1e-4 * sequential.abs().max()


def test_chunked_vae_decode_is_output_equivalent(pipe):
    latent = torch.randn(1, 4, 3, SIZE // 8, SIZE // 8, generator=torch.Generator().manual_seed(3))
    pipe.vae_decode_chunk_size = 1
    one = pipe.decode_latents(latent)
    pipe.vae_decode_chunk_size = 16
    all_frames = pipe.decode_latents(latent)
    assert torch.allclose(one, all_frames, atol=1e-5)  # float32 kernels differ slightly with the batch size


def test_encoder_offload_is_output_equivalent(pipe, media):
    kwargs = dict(video=media["video"], conditions=["y", "depth"], output_type="latent")
    plain = generate(pipe, **kwargs).frames
    pipe.enable_encoder_offload("cpu")
    try:
        offloaded = generate(pipe, **kwargs).frames
        assert next(pipe.midas.parameters()).device == torch.device("cpu")
    finally:
        pipe.disable_encoder_offload()
    assert torch.equal(plain, offloaded)


def test_autocast_is_a_no_op_on_cpu(pipe):
    plain = generate(pipe, output_type="latent").frames
    pipe.enable_autocast(torch.bfloat16)
    try:
        assert torch.equal(generate(pipe, output_type="latent").frames, plain)
    finally:
        pipe.disable_autocast()
    with pytest.raises(ValueError, match="autocast dtype"):
        pipe.enable_autocast(torch.float32)


@pytest.mark.slow
def test_compiled_unet_is_output_equivalent(weights_dir):
    pipe = VideoComposerPipeline.from_official(weights_dir, conditions=["y"], config=tiny_configs())
    pipe.set_progress_bar_config(disable=True)
    plain = generate(pipe, output_type="latent").frames
    pipe.enable_compile(backend="aot_eager")  # graph capture without a C compiler; the GPU test uses inductor
    assert torch.allclose(generate(pipe, output_type="latent").frames, plain, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_accelerator_options_are_output_equivalent(weights_dir, media):
    pipe = VideoComposerPipeline.from_official(
        weights_dir, conditions=["y", "depth", "motion"], config=tiny_configs(), device="cuda"
    )
    pipe.set_progress_bar_config(disable=True)
    kwargs = dict(video=media["video"], conditions=["y", "depth", "motion"], output_type="latent")
    reference = generate(pipe, **kwargs).frames
    pipe.enable_encoder_offload()
    assert torch.allclose(generate(pipe, **kwargs).frames, reference, atol=1e-5)
    assert next(pipe.midas.parameters()).device.type == "cpu" and pipe.device.type == "cuda"
    pipe.disable_encoder_offload()
    pipe.enable_autocast(torch.bfloat16)
    assert (generate(pipe, **kwargs).frames - reference).abs().max() < 0.1 * reference.abs().max()
    pipe.disable_autocast()
    pipe.enable_compile()
    assert torch.allclose(generate(pipe, **kwargs).frames, reference, atol=1e-4)


# ------------------------------------------------------------------ progress, callback, inputs


def test_progress_bar_can_be_turned_off(pipe, capsys):
    pipe.set_progress_bar_config()
    generate(pipe, output_type="latent")
    assert "denoising" in capsys.readouterr().err
    pipe.set_progress_bar_config(disable=True)
    generate(pipe, output_type="latent")
    assert "denoising" not in capsys.readouterr().err


def test_callback_sees_every_step_and_may_replace_latents(pipe):
    steps = []

    def callback(p, step, timestep, tensors):
        steps.append((step, timestep, tensors["latents"].shape))
        if step == len(steps) - 1 and step == STEPS - 1:
            return {"latents": torch.zeros_like(tensors["latents"])}

    out = generate(pipe, output_type="latent", callback_on_step_end=callback)
    assert [s for s, _, _ in steps] == list(range(STEPS))
    assert steps[0][1] > steps[-1][1]  # descending timesteps
    assert torch.count_nonzero(out.frames) == 0


def test_negative_prompt_changes_the_unconditional_pass(pipe):
    plain = generate(pipe, output_type="latent").frames
    negative = generate(pipe, output_type="latent", negative_prompt="blurry").frames
    assert not torch.allclose(plain, negative)


def test_conditions_are_implied_by_the_inputs(pipe, media):
    assert pipe.resolve_conditions(None, prompt="x", style_image=media["style_image"], sketch=media["sketch"]) == [
        "y",
        "image",
        "single_sketch",
    ]
    out = generate(pipe, sketch=media["sketch"], output_type="latent")
    assert sorted(out.conditions) == ["single_sketch", "y"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(height=36), "multiples of 16"),
        (dict(scheduler="plms"), "scheduler must be one of"),
        (dict(conditions=["y", "depth"]), "condition 'depth' needs video= or depth="),
        (dict(conditions=["motion"], negative_prompt="x", video="missing.mp4"), "negative_prompt needs"),
        (dict(conditions=["motion"], video="missing.mp4"), "video file not found"),
        (dict(output_type="gif"), "output_type must be"),
        (dict(latents=torch.zeros(1, 4, 3, 4, 4)), "latents must have shape"),
        (dict(num_frames=0), "num_frames must be a positive integer"),
        (dict(conditions=["canny"]), "unknown condition"),
    ],
)
def test_bad_arguments_are_rejected_before_compute(pipe, kwargs, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        generate(pipe, **kwargs)
