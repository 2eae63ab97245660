"""Unit tests: CLIP tokenizer, tiny OpenCLIP towers and their loader, image preprocessing."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image

from videocomposer.checkpoints import OFFICIAL_FILES, WeightFileError, missing_file_error
from videocomposer.models.clip import CLIPTextConfig, CLIPVisionConfig, OpenCLIP, OpenCLIPConfig
from videocomposer.models.tokenizer import CLIPTokenizer, clean_caption
from videocomposer.video.image_preprocess import (
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    normalize_pixels,
    preprocess_reference_frame,
    preprocess_style_image,
)

SOT, EOT = 49406, 49407
OFFICIAL_NAME = OFFICIAL_FILES["clip"].filename


# ----------------------------------------------------------------------------------------------
# tokenizer
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tok() -> CLIPTokenizer:
    return CLIPTokenizer()


def test_vocabulary_and_special_ids(tok):
    assert tok.vocab_size == 49408 and (tok.sot_token_id, tok.eot_token_id, tok.pad_token_id) == (SOT, EOT, 0)


def test_known_ids_from_open_clip(tok):
    # open_clip.tokenize(['a red car'])[0, :6], measured with open_clip's own tokenizer
    assert tok(["a red car"])[0, :6].tolist() == [SOT, 320, 736, 1615, EOT, 0]


def test_empty_caption(tok):
    tokens = tok("")
    assert tokens.shape == (1, 77) and tokens.dtype == torch.int64
    assert tokens[0, :2].tolist() == [SOT, EOT] and not tokens[0, 2:].any()


def test_long_caption_truncated_with_eot_last(tok):
    text = " ".join(f"word{i}" for i in range(100))
    ids = tok.encode(text)
    assert len(ids) > 75
    row = tok(text)[0]
    assert row.shape == (77,) and row[-1].item() == EOT and (row != 0).all()
    assert row[:-1].tolist() == [SOT, *ids[:75]]


def test_batch_rows_equal_single_calls(tok):
    captions = ["A sunflower in a field", "", "two  dogs"]
    batch = tok(captions)
    assert batch.shape == (3, 77)
    for row, caption in zip(batch, captions):
        assert torch.equal(row, tok(caption)[0])


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Tom &amp; Jerry", "tom & jerry"),
        ("Tom &amp;amp; Jerry", "tom & jerry"),  # unescaped twice
        ("&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),
        ("  a \t red\n\n car  ", "a red car"),
        ("A RED Car", "a red car"),
        ("cafÃ© crÃ¨me", "café crème"),  # mojibake (UTF-8 read as Latin-1) repaired by ftfy
        ("\u201ccurly\u201d \u2018quotes\u2019", "\"curly\" 'quotes'"),
        ("\ufb01ne", "fine"),  # ligature
    ],
)
def test_cleaning_like_open_clip(tok, raw, clean):
    assert clean_caption(raw) == clean
    assert torch.equal(tok(raw), tok(clean))


def test_different_text_gives_different_tokens(tok):
    assert not torch.equal(tok("a red car"), tok("a blue car"))


def test_literal_special_token_is_special(tok):
    # open_clip's pre-tokenizer matches the special tokens first
    assert tok.encode("x <end_of_text>") == [*tok.encode("x"), EOT]


def test_decode_round_trip(tok):
    assert tok.decode(tok("Hello, world! café 42")[0]) == "hello , world ! café 4 2"


def test_tokenizer_bad_input(tok, tmp_path):
    with pytest.raises(ValueError, match="texts"):
        tok(["ok", 3])
    with pytest.raises(ValueError, match="context_length"):
        tok("a", context_length=1)
    with pytest.raises(FileNotFoundError, match="nowhere.txt.gz"):
        CLIPTokenizer(tmp_path / "nowhere.txt.gz")


# ----------------------------------------------------------------------------------------------
# config
# ----------------------------------------------------------------------------------------------


def test_vit_h_14_preset_equals_open_clip_json():
    vit_h_14_json = {  # open_clip/model_configs/ViT-H-14.json
        "embed_dim": 1024,
        "vision_cfg": {"image_size": 224, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24},
    }
    assert OpenCLIPConfig.from_dict(vit_h_14_json) == OpenCLIPConfig.vit_h_14()


def test_config_round_trip_and_validation():
    config = _tiny_config()
    assert OpenCLIPConfig.from_dict(asdict(config)) == config
    assert OpenCLIPConfig.from_dict({**asdict(config), "custom_text": False}) == config  # switched-off feature
    with pytest.raises(ValueError, match="ls_init_value"):
        OpenCLIPConfig.from_dict({"embed_dim": 8, "text_cfg": {"ls_init_value": 1e-5}})
    with pytest.raises(ValueError, match="head_width"):
        CLIPVisionConfig(width=30, head_width=7)  # 4 heads do not split 30


# ----------------------------------------------------------------------------------------------
# tiny model, loader
# ----------------------------------------------------------------------------------------------


def _tiny_config() -> OpenCLIPConfig:
    return OpenCLIPConfig(
        embed_dim=8,
        vision_cfg=CLIPVisionConfig(image_size=28, patch_size=14, width=16, layers=2, head_width=8),
        text_cfg=CLIPTextConfig(context_length=10, vocab_size=50, width=12, heads=2, layers=3),
    )


@pytest.fixture(scope="module")
def tiny() -> OpenCLIP:
    torch.manual_seed(0)
    return OpenCLIP(_tiny_config()).freeze()


@pytest.fixture(scope="module")
def tokens() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    rows = torch.randint(1, 40, (2, 10), generator=g)
    rows[:, 6] = 49  # "EOT": the highest id of each row
    rows[:, 7:] = 0
    return rows


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    return torch.randn(2, 3, 28, 28, generator=torch.Generator().manual_seed(2))


def _save(sd: dict, path) -> None:
    torch.save({k: v.clone() for k, v in sd.items()}, path)


def _assert_same_outputs(a: OpenCLIP, b: OpenCLIP, tokens: torch.Tensor, pixels: torch.Tensor) -> None:
    with torch.no_grad():
        if "text" in a.towers:
            assert torch.equal(a.encode_text_context(tokens), b.encode_text_context(tokens))
            assert torch.equal(a.encode_text(tokens), b.encode_text(tokens))
        if "image" in a.towers:
            assert torch.equal(a.encode_image_context(pixels), b.encode_image_context(pixels))


def test_output_shapes(tiny, tokens, pixels):
    with torch.no_grad():
        assert tiny.encode_text_context(tokens).shape == (2, 10, 12)
        assert tiny.encode_text(tokens).shape == (2, 8)
        assert tiny.encode_image(pixels).shape == (2, 8)
        assert tiny.encode_image_context(pixels).shape == (2, 1, 8)
        assert torch.allclose(tiny.encode_image(pixels, normalize=True).norm(dim=-1), torch.ones(2))


def test_penultimate_skips_exactly_the_last_block(tiny, tokens):
    with torch.no_grad():
        x = tiny.token_embedding(tokens) + tiny.positional_embedding
        for block in tiny.transformer.resblocks[:-1]:
            x = block(x, causal=True)
        penultimate = tiny.ln_final(x)
        last = tiny.ln_final(tiny.transformer.resblocks[-1](x, causal=True))
        torch.testing.assert_close(tiny.encode_text_context(tokens), penultimate, rtol=0, atol=0)
        torch.testing.assert_close(tiny.encode_text_context(tokens, layer="last"), last, rtol=0, atol=0)
        assert not torch.allclose(penultimate, last)


def test_text_attention_is_causal(tiny, tokens):
    changed = tokens.clone()
    changed[:, 8] = 5  # after the EOT position 6
    with torch.no_grad():
        a, b = tiny.encode_text_context(tokens), tiny.encode_text_context(changed)
        torch.testing.assert_close(a[:, :8], b[:, :8], rtol=0, atol=1e-6)
        assert not torch.allclose(a[:, 8], b[:, 8])
        torch.testing.assert_close(tiny.encode_text(tokens), tiny.encode_text(changed), rtol=0, atol=1e-6)


def test_freeze(tiny):
    assert not tiny.training and not any(p.requires_grad for p in tiny.parameters())


@pytest.mark.parametrize("wrap", ["flat", "module_prefix", "state_dict_wrapper", "folder"])
def test_from_official_round_trip(tiny, tokens, pixels, tmp_path, wrap):
    sd = tiny.state_dict()
    target = tmp_path / OFFICIAL_NAME
    if wrap == "module_prefix":
        sd = {f"module.{k}": v for k, v in sd.items()}
    if wrap == "state_dict_wrapper":
        torch.save({"state_dict": dict(sd)}, target)
    else:
        _save(sd, target)
    loaded = OpenCLIP.from_official(tmp_path if wrap == "folder" else target, _tiny_config())
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    _assert_same_outputs(tiny, loaded, tokens, pixels)


def test_from_official_missing_file(tmp_path):
    with pytest.raises(WeightFileError) as info:
        OpenCLIP.from_official(tmp_path, _tiny_config())
    message = str(info.value)
    assert message == str(missing_file_error(tmp_path / OFFICIAL_NAME, "clip"))
    assert OFFICIAL_NAME in message and str(tmp_path.resolve()) in message and OFFICIAL_FILES["clip"].url in message


def _param_counts(model: OpenCLIP) -> tuple[int, int]:
    visual = sum(p.numel() for n, p in model.named_parameters() if n.startswith("visual."))
    return visual, sum(p.numel() for p in model.parameters()) - visual


@pytest.mark.parametrize("tower", ["text", "image"])
def test_single_tower_load_neither_needs_nor_keeps_the_other(tiny, tokens, pixels, tmp_path, tower):
    full = tiny.state_dict()
    visual_params, text_params = _param_counts(tiny)
    # a file holding only this tower's keys is enough
    own = {k: v for k, v in full.items() if k.startswith("visual.") == (tower == "image")}
    _save(own, tmp_path / "own.bin")
    # and from the full file the other tower is dropped
    _save(full, tmp_path / "full.bin")
    for name in ("own.bin", "full.bin"):
        model = OpenCLIP.from_official(tmp_path / name, _tiny_config(), towers=(tower,))
        assert model.towers == (tower,)
        has_visual = any(k.startswith("visual.") for k in model.state_dict())
        assert has_visual == (tower == "image") and hasattr(model, "visual") == (tower == "image")
        assert _param_counts(model) == ((visual_params, 0) if tower == "image" else (0, text_params))
        _assert_same_outputs(model, tiny, tokens, pixels)
    with pytest.raises(ValueError, match="tower"):
        model.encode_image(pixels) if tower == "text" else model.encode_text(tokens)


def test_from_official_strict(tiny, tmp_path):
    sd = dict(tiny.state_dict())
    del sd["ln_final.weight"]
    _save(sd, tmp_path / "broken.bin")
    with pytest.raises(WeightFileError, match="ln_final.weight"):
        OpenCLIP.from_official(tmp_path / "broken.bin", _tiny_config())
    _save(tiny.state_dict(), tmp_path / "ok.bin")
    with pytest.raises(WeightFileError, match="shape"):  # file for another architecture
        OpenCLIP.from_official(
            tmp_path / "ok.bin", OpenCLIPConfig.from_dict({**asdict(_tiny_config()), "embed_dim": 4})
        )


def test_encoder_bad_input(tiny, tokens, pixels):
    with pytest.raises(ValueError, match="tokens"):
        tiny.encode_text_context(torch.zeros(2, 11, dtype=torch.int64))  # longer than context_length
    with pytest.raises(ValueError, match="layer"):
        tiny.encode_text_context(tokens, layer="first")
    with pytest.raises(ValueError, match="pixels"):
        tiny.encode_image(pixels[:, :, :20])
    with pytest.raises(ValueError, match="towers"):
        OpenCLIP(_tiny_config(), towers=("audio",))


# ----------------------------------------------------------------------------------------------
# image preprocessing
# ----------------------------------------------------------------------------------------------


def _picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(width * 1000 + height)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).convert(mode)


def _normalised(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255)
    mean, std = np.array(OPENAI_CLIP_MEAN, np.float32), np.array(OPENAI_CLIP_STD, np.float32)
    return torch.from_numpy((array - mean) / std).permute(2, 0, 1)


@pytest.mark.parametrize(
    "size, resized, box",
    [
        ((300, 200), (336, 224), (56, 0, 280, 224)),  # landscape: long side int(224·300/200)
        ((250, 333), (224, 298), (0, 37, 224, 261)),  # portrait: int(224·333/250) = 298, top 37
        ((224, 227), None, (0, 2, 224, 226)),  # already 224: not resized; round(1.5) = 2
        ((225, 224), None, (0, 0, 224, 224)),  # round(0.5) = 0 (round half to even, like torchvision)
    ],
)
def test_style_path_resizes_shorter_side_bicubic_then_crops_centre(size, resized, box):
    image = _picture(*size)
    expected = image.resize(resized, resample=Image.BICUBIC) if resized else image
    out = preprocess_style_image(image)
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32
    assert torch.equal(out, _normalised(expected.crop(box)))


def test_style_path_converts_to_rgb_after_cropping():
    rgba = np.random.default_rng(3).integers(0, 256, (240, 300, 4), dtype=np.uint8)
    image = Image.fromarray(rgba, "RGBA")  # varying alpha: PIL resamples RGBA premultiplied
    expected = image.resize((280, 224), resample=Image.BICUBIC).crop((28, 0, 252, 224))
    assert torch.equal(preprocess_style_image(image), _normalised(expected))
    assert preprocess_style_image(_picture(230, 260, "L")).shape == (3, 224, 224)


def test_reference_path_is_center_crop_v2():
    image = _picture(600, 500)  # short side >= 448: halved with BOX first
    halved = image.resize((300, 250), resample=Image.BOX)
    expected = halved.resize((269, 224), resample=Image.BICUBIC).crop((22, 0, 246, 224))  # round(300·224/250) = 269
    out = preprocess_reference_frame(image)
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32
    assert torch.equal(out, _normalised(expected))


def test_normalize_pixels_range_and_errors():
    pixels = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 2).expand(3, 2, 2)
    out = normalize_pixels(pixels)
    mean, std = torch.tensor(OPENAI_CLIP_MEAN), torch.tensor(OPENAI_CLIP_STD)
    torch.testing.assert_close(out[:, 0, 0], -mean / std)
    torch.testing.assert_close(out[:, 0, 1], (1 - mean) / std)
    with pytest.raises(ValueError, match="uint8"):
        normalize_pixels(pixels.float())
    with pytest.raises(ValueError, match="PIL"):
        preprocess_style_image(np.zeros((4, 4, 3), np.uint8))
