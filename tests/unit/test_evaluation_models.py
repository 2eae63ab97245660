"""Model-based evaluation metrics: CLIP frame consistency / CLIPSIM, depth and sketch error, I3D + FVD."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from videocomposer.annotators.depth import extract_depth
from videocomposer.annotators.sketch import extract_sketch
from videocomposer.checkpoints import OFFICIAL_FILES, WeightFileError
from videocomposer.cli import main
from videocomposer.evaluation.annotator_metrics import depth_error, frames_at, scale_invariant_log_error, sketch_error
from videocomposer.evaluation.clip_metrics import clipsim, frame_consistency, load_clip
from videocomposer.evaluation.fvd import FeatureCache, frechet_distance, fvd, load_i3d, random_i3d, video_set_features
from videocomposer.evaluation.i3d import InceptionI3D
from videocomposer.evaluation.metrics import STROKE_METRICS, TRUTH_METRICS
from videocomposer.pipelines.components import load_official_component
from videocomposer.pipelines.demo import make_demo_video
from videocomposer.pipelines.tiny import tiny_configs, tiny_model_config, write_tiny_official_weights
from videocomposer.video.writer import write_mp4


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval-weights")
    write_tiny_official_weights(folder, components=["clip", "midas", "pidinet", "sketch_cleaner"])
    return folder


def video(num_frames=6, size=32, seed=0, step=3) -> np.ndarray:
    rng = np.random.RandomState(seed)
    big = (rng.rand(size + step * num_frames, size + step * num_frames, 3) * 255).astype(np.uint8)
    return np.stack([big[t * step : t * step + size, t * step : t * step + size] for t in range(num_frames)])


def test_static_video_has_frame_consistency_one_with_any_tower(weights):
    for seed in (0, 1):
        torch.manual_seed(seed)  # another random tower: not loaded, built from the tiny config
        towers = [load_clip(weights / OFFICIAL_FILES["clip"].filename, tiny_configs()["clip"])]
        from videocomposer.models.clip import OpenCLIP

        towers.append(OpenCLIP(tiny_configs()["clip"]).eval())
        still = np.repeat(video()[:1], 5, axis=0)
        for clip in towers:
            assert frame_consistency(clip, still) == pytest.approx(1.0, abs=1e-6)
            assert frame_consistency(clip, video()) < 0.9999


def test_clipsim_is_the_mean_over_frames_and_depends_on_the_caption(weights):
    clip = load_clip(weights / OFFICIAL_FILES["clip"].filename, tiny_configs()["clip"])
    frames = video()
    whole = clipsim(clip, frames, "a red ball")
    assert whole == pytest.approx(np.mean([clipsim(clip, f[None], "a red ball") for f in frames]), abs=1e-6)
    assert -1 <= whole <= 1 and whole != pytest.approx(clipsim(clip, frames, "an empty street at night"), abs=1e-6)
    with pytest.raises(ValueError, match="caption"):
        clipsim(clip, frames, " ")


def test_depth_error_is_zero_on_its_own_depth_and_scale_invariant(weights):
    midas = load_official_component("midas", weights / OFFICIAL_FILES["midas"].filename, tiny_configs()["midas"])
    frames = video(num_frames=3, size=64)
    own = extract_depth(midas, frames_at(frames, 64)).float()
    assert depth_error(midas, frames, own) == pytest.approx(0.0, abs=1e-6)
    assert depth_error(midas, frames, own * 3.0) == pytest.approx(0.0, abs=1e-6)  # MiDaS depth is relative
    assert depth_error(midas, frames, own.flip(-1)) > 1e-3
    target = torch.rand(2, 1, 8, 8) + 0.1
    noisy = target * torch.exp(torch.randn_like(target) * 0.2)
    d = noisy.log() - target.log()  # the definition, written out
    assert scale_invariant_log_error(noisy, target) == pytest.approx(
        float((d.pow(2).mean() - d.mean() ** 2).sqrt()), rel=1e-6
    )


def test_sketch_error_is_zero_on_its_own_sketch(weights):
    pidinet = load_official_component("pidinet", weights / OFFICIAL_FILES["pidinet"].filename)
    cleaner = load_official_component(
        "sketch_cleaner", weights / OFFICIAL_FILES["sketch_cleaner"].filename, tiny_configs()["sketch_cleaner"]
    )
    frames = video(num_frames=2, size=32)
    own = extract_sketch(pidinet, cleaner, frames_at(frames, 32)).float()
    assert sketch_error(pidinet, cleaner, frames, own) == pytest.approx(0.0, abs=1e-6)
    blank = torch.zeros_like(own)  # against an empty sketch the error is the mean line intensity
    assert (
        sketch_error(pidinet, cleaner, frames, blank) == pytest.approx(float(own.mean()), rel=1e-6)
        and float(own.mean()) > 0
    )
    with pytest.raises(ValueError, match="3 frames, the video 2"):
        sketch_error(pidinet, cleaner, frames, own[[0, 1, 1]])


def test_frechet_distance_closed_forms():
    rng = np.random.RandomState(0)
    a = rng.randn(50, 6) @ rng.randn(6, 6)
    shift = np.arange(6.0)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a, a + shift) == pytest.approx((shift**2).sum(), rel=1e-9)  # same covariance
    doubled = 2 * a - a.mean(0)  # Σ → 4Σ, same mean: tr(Σ + 4Σ − 2·2Σ) = tr(Σ)
    assert frechet_distance(a, doubled) == pytest.approx(np.trace(np.cov(a, rowvar=False)), rel=1e-9)
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(a[:1], a)


def test_fvd_on_a_random_tiny_i3d_is_zero_symmetric_and_grows_with_a_shift(tmp_path):
    extractor = random_i3d()
    videos = [video(num_frames=8, seed=s) for s in range(5)]
    shifted = {k: [np.clip(v.astype(int) + k, 0, 255).astype(np.uint8) for v in videos] for k in (10, 40, 80)}
    assert abs(fvd(videos, videos, extractor)) < 1e-4
    values = [fvd(videos, shifted[k], extractor) for k in (10, 40, 80)]
    assert values[0] == pytest.approx(fvd(shifted[10], videos, extractor), rel=1e-6)  # round-off: rank-5 covariances
    assert 0 < values[0] < values[1] < values[2]
    # the per-set cache: same features from a file set, a second call reads them back
    files = [write_mp4(tmp_path / f"{i}.mp4", v, fps=8) for i, v in enumerate(videos)]
    cache = FeatureCache(tmp_path / "cache")
    first = video_set_features(files, extractor, cache=cache)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    np.testing.assert_array_equal(video_set_features(files, extractor, cache=cache), first)


def test_i3d_state_dict_and_torchscript_files_load(tmp_path):
    torch.manual_seed(0)
    model = InceptionI3D()
    torch.save(model.state_dict(), tmp_path / "i3d_pretrained_400.pt")
    extractor = load_i3d(tmp_path / "i3d_pretrained_400.pt")
    clips = np.stack([video(num_frames=8, seed=s) for s in range(2)])
    with torch.no_grad():
        expected = model.eval()(extractor.prepare(clips)).double().numpy()
    np.testing.assert_allclose(extractor.features(clips), expected, rtol=1e-5, atol=1e-6)
    assert "224x224" in extractor.protocol(None) and extractor.name == "pytorch-i3d"
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(WeightFileError, match="wrong.pt"):
        load_i3d(tmp_path / "wrong.pt")
    with pytest.raises(WeightFileError, match="not found"):
        load_i3d(tmp_path / "missing.pt")


class _Detector(nn.Module):
    """Stand-in for StyleGAN-V's TorchScript I3D: same call signature, 400 features."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Parameter(torch.randn(3, 400))

    def forward(self, x, rescale: bool = False, resize: bool = False, return_features: bool = False):
        return torch.cat([x.mean(dim=(3, 4)), x.std(dim=(3, 4))], dim=2).mean(dim=2) @ self.proj


def test_evaluate_cli_with_every_metric(weights, tmp_path, capsys):
    """Two tiny generated runs, CLIP + annotators from the tiny official files, FVD with a TorchScript detector."""
    torch.manual_seed(0)
    torch.jit.script(_Detector()).save(str(tmp_path / "i3d_torchscript.pt"))
    (tmp_path / "tiny.json").write_text(json.dumps(tiny_model_config()))
    write_tiny_official_weights(weights, components=["unet", "vae"])
    make_demo_video(tmp_path / "clip.mp4", num_frames=24, height=48, width=64)[0].save(tmp_path / "first.png")
    out = tmp_path / "out"
    for seed in ("1", "2"):
        assert (
            main(
                [
                    "generate",
                    "exp02_motion_transfer",
                    "--weights-dir",
                    str(weights),
                    "--model-config",
                    str(tmp_path / "tiny.json"),
                    "--input_video",
                    str(tmp_path / "clip.mp4"),
                    "--input_text_desc",
                    "a ball",
                    "--image_path",
                    str(tmp_path / "first.png"),
                    "--seed",
                    seed,
                    "--frames",
                    "10",
                    "--height",
                    "32",
                    "--width",
                    "32",
                    "--steps",
                    "1",
                    "--output-dir",
                    str(out),
                    "--quiet",
                    "--save-conditions",
                ]
            )
            == 0
        )
    report_path = tmp_path / "eval.json"
    code = main(
        [
            "evaluate",
            str(out),
            "--weights-dir",
            str(weights),
            "--model-config",
            str(tmp_path / "tiny.json"),
            "--i3d",
            str(tmp_path / "i3d_torchscript.pt"),
            "--json",
            str(report_path),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads(report_path.read_text())
    for key in ("motion_epe", "first_frame_psnr", "clip_frame_consistency", "clipsim", "fvd"):
        assert isinstance(report[key], float), key
    assert "stylegan-v" in report["fvd_protocol"] and "2 reference vs 2 generated" in report["fvd_protocol"]
    # exp02 has no depth or sketch condition: with the annotators loaded, they are compared with the depth and the
    # sketch of the source the runs recorded; the object-track metrics are skipped for want of a truth file, the
    # stroke metrics for want of strokes
    assert isinstance(report["depth_si_log"], float) and isinstance(report["sketch_mae"], float)
    assert any("depth re-extracted from" in note for note in report["runs"][0]["notes"])
    assert set(report["skipped"]) == {*TRUTH_METRICS, *STROKE_METRICS}
    assert all("--truth" in report["skipped"][m] for m in TRUTH_METRICS)
    assert main(["evaluate", str(out), "--metrics", "depth_si_log", "--json", str(tmp_path / "d.json")]) == 2
    assert "--midas-weights" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--metrics", "fvd"]) == 2
    assert "--i3d" in capsys.readouterr().err

    # depth and sketch conditions: recorded by generate, compared by evaluate with the tiny annotators
    spatial = tmp_path / "spatial"
    assert (
        main(
            [
                "generate",
                "compose",
                "--conditions",
                "y,depth,sketch",
                "--weights-dir",
                str(weights),
                "--model-config",
                str(tmp_path / "tiny.json"),
                "--input_video",
                str(tmp_path / "clip.mp4"),
                "--input_text_desc",
                "a ball",
                "--frames",
                "4",
                "--height",
                "32",
                "--width",
                "32",
                "--steps",
                "1",
                "--output-dir",
                str(spatial),
                "--quiet",
                "--save-conditions",
            ]
        )
        == 0
    )
    args = [
        "evaluate",
        str(spatial),
        "--weights-dir",
        str(weights),
        "--model-config",
        str(tmp_path / "tiny.json"),
        "--metrics",
        "depth_si_log,sketch_mae,clipsim",
    ]
    assert main([*args, "--json", str(tmp_path / "s.json")]) == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "s.json").read_text())
    assert set(report["protocol"]) == {"depth_si_log", "sketch_mae", "clipsim"} and report["skipped"] == {}
    assert report["depth_si_log"] >= 0 and 0 <= report["sketch_mae"] <= 1
