"""``videocomposer ui``: the app launched in-process answers through ``gradio_client`` (named parameters, as the
request's fields) exactly as the command it prints, keeps every job, names a bad field by its label; and a real
headless Chromium draws, generates and plays.

Runs on tiny random official-format weights (the output is noise; only the plumbing is checked).
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

gradio = pytest.importorskip("gradio", reason="the ui extra (gradio) is not installed: pip install -e '.[ui]'")
from gradio_client import Client, handle_file  # noqa: E402  (installed with gradio)

from videocomposer.app import GenerateRequest  # noqa: E402
from videocomposer.cli import main, parse_command_line  # noqa: E402
from videocomposer.files import new_numbered_dir  # noqa: E402
from videocomposer.pipelines.demo import make_demo_video  # noqa: E402
from videocomposer.pipelines.tiny import tiny_model_config, write_tiny_official_weights  # noqa: E402
from videocomposer.ui.access import Limits  # noqa: E402
from videocomposer.ui.app import FORM_FIELDS, LABELS, build_app, form_fields, launch  # noqa: E402
from videocomposer.ui.jobs import form_guidance_scale  # noqa: E402
from videocomposer.ui.model import ModelHolder, resolve_model  # noqa: E402

SMALL = {"steps": 2, "frames": 4, "height": 32, "width": 32}
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def decode(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui")
    write_tiny_official_weights(folder / "weights", components=["unet", "vae", "clip"])
    (folder / "tiny.json").write_text(json.dumps(tiny_model_config()))
    frames = make_demo_video(folder / "clip.mp4", num_frames=24, height=96, width=128)
    frames[0].save(folder / "first.png")
    holder = ModelHolder(resolve_model(str(folder / "weights"), str(folder / "tiny.json"), toy=False), device="cpu")
    demo = build_app(holder, folder / "outputs", SMALL)
    _, url, _ = launch(demo, folder / "outputs", port=None, block=False)
    try:
        yield {
            "url": url,
            "holder": holder,
            "folder": folder,
            "outputs": folder / "outputs",
            "image": folder / "first.png",
            "video": folder / "clip.mp4",
        }
    finally:
        demo.close()


def form(**values):
    """The /generate arguments by name (defaults: exp02 with nothing uploaded)."""
    defaults = dict(
        task="exp02_motion_transfer",
        conditions=[],
        prompt="a red ball",
        negative_prompt="",
        video=None,
        image=None,
        style_image=None,
        sketch=None,
        depth=None,
        mask=None,
        motion="",
        steps=2,
        guidance_scale=9.0,
        min_guidance_scale=None,
        scheduler="ddim",
        seed=7,
        frames=4,
        height=32,
        width=32,
    )
    defaults.update(values)
    assert set(defaults) == set(FORM_FIELDS)
    return defaults


STROKE = {"width": 128, "height": 96, "strokes": [{"points": [[20, 40], [100, 40]], "radius": 16}]}


def test_generation_through_gradio_client_equals_the_command_it_shows(app, tmp_path):
    client = Client(app["url"], verbose=False)
    video, grid, command, folder, status = client.predict(
        **form(image=handle_file(str(app["image"])), motion=json.dumps(STROKE), min_guidance_scale=2),
        api_name="/generate",
    )
    frames = decode(video)
    assert frames.shape == (4, 32, 32, 3)
    assert Path(grid).suffix == ".gif"
    folder = Path(folder)
    assert folder.parent == app["outputs"] and (folder / "command.txt").read_text().strip() == command
    argv = shlex.split(command)
    assert argv[:3] == ["videocomposer", "generate", "exp02_motion_transfer"]
    args = parse_command_line(argv[1:])
    assert json.loads(Path(args.motion).read_text())["strokes"][0]["points"] == STROKE["strokes"][0]["points"]
    assert Path(args.image).read_bytes() == app["image"].read_bytes()
    assert args.video is None  # the drawn motion stands in for a video's
    assert args.min_guidance_scale == 2.0  # the frame-0 guidance reaches the command (and the rerun below)
    saved = folder / "exp02_motion_transfer-S00007"
    assert np.array_equal(decode(saved / "exp02_motion_transfer-S00007.mp4"), frames)
    assert f"command: {command}" in (saved / "settings.txt").read_text()
    # the job's disk use, reported against its limit
    used = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert (
        status
        == f"Saved in {folder}: {used / 2**20:.1f} MB of the {Limits().job_mb} MB a job may use (2 output files and the copied inputs)"
    )

    # the command, run by the CLI, makes the same video
    rerun = argv[1:-1] + [str(tmp_path)]
    assert argv[-2] == "--output-dir" and main(rerun) == 0
    again = decode(tmp_path / "exp02_motion_transfer-S00007" / "exp02_motion_transfer-S00007.mp4").astype(int)
    # equal up to float noise (the app's worker thread may split reductions differently) and the H.264 codec
    # rounding it; another seed or missing input gives tens of levels
    assert np.abs(again - frames).mean() < 1.0


def test_jobs_never_overwrite_and_random_seed_is_reported(app):
    client = Client(app["url"], verbose=False)
    args = form(task="compose", conditions=["y", "local_image"], image=handle_file(str(app["image"])), seed=-1)
    first = client.predict(**args, api_name="/generate")
    second = client.predict(**args, api_name="/generate")
    assert first[3] != second[3] and Path(first[3]).is_dir() and Path(second[3]).is_dir()
    seeds = [int(shlex.split(c)[shlex.split(c).index("--seed") + 1]) for c in (first[2], second[2])]
    assert all(0 <= s < 2**31 for s in seeds)
    assert "--conditions y,local_image" in first[2] and "--trajectory" not in first[2]


def test_a_guidance_scale_per_condition_reaches_the_command(app):
    """A per-condition slider above 0 makes the request's scales per condition, the task's text at the overall
    scale; all at 0 keep the single number; a scale for a condition the task does not use is refused."""
    assert form_guidance_scale(
        {
            "task": "compose",
            "conditions": ["y", "motion"],
            "guidance_scale": 7.0,
            "guidance_scale_motion": 3,
            "guidance_scale_y": 0,
        }
    ) == {"motion": 3.0, "y": 7.0}
    assert (
        form_guidance_scale(
            {
                "task": "compose",
                "conditions": ["y"],
                "guidance_scale": 7.0,
                "guidance_scale_motion": 0,
                "guidance_scale_y": None,
            }
        )
        == 7.0
    )
    client = Client(app["url"], verbose=False)
    args = form(task="compose", conditions=["y", "motion"], video=handle_file(str(app["video"])), guidance_scale=6.0)
    command = client.predict(**args, guidance_scale_motion=2.5, api_name="/generate")[2]
    assert "--guidance-scale motion=2.5,y=6" in command
    with pytest.raises(Exception, match=r"Guidance scale: names \['depth'\], which task compose does not use"):
        client.predict(**args, guidance_scale_depth=2.0, api_name="/generate")


def test_bad_inputs_name_the_field_by_its_label_and_leave_no_folder(app, tmp_path, capsys):
    client = Client(app["url"], verbose=False)
    before = sorted(app["outputs"].iterdir()) if app["outputs"].exists() else []
    # the same request error: the app names the widgets, the command line the flags
    with pytest.raises(
        Exception, match=f"task exp02_motion_transfer needs {LABELS['video']} and {LABELS['image']}"
    ) as raised:
        client.predict(**form(), api_name="/generate")
    assert "--input_video" not in str(raised.value) and "--image_path" not in str(raised.value)
    assert main(["generate", "exp02_motion_transfer", "--output-dir", str(tmp_path)]) == 2
    assert "task exp02_motion_transfer needs --input_video and --image_path" in capsys.readouterr().err
    with pytest.raises(Exception, match=f"{LABELS['conditions']}: at least one condition is required"):
        client.predict(**form(task="compose", conditions=[]), api_name="/generate")
    with pytest.raises(Exception, match=rf"{LABELS['motion']}: missing key\(s\) \['strokes'\]"):
        client.predict(
            **form(image=handle_file(str(app["image"])), motion='{"width": 8, "height": 8}'), api_name="/generate"
        )
    with pytest.raises(Exception, match="height and width must be multiples of 16"):
        client.predict(
            **form(image=handle_file(str(app["image"])), motion=json.dumps(STROKE), height=40), api_name="/generate"
        )
    assert (sorted(app["outputs"].iterdir()) if app["outputs"].exists() else []) == before


def test_endpoints_take_named_parameters_named_as_the_request_fields(app):
    """The request's fields, and a guidance scale per condition the model serves (``guidance_scale_motion``)."""
    api = Client(app["url"], verbose=False).view_api(print_info=False, return_format="dict")
    request_fields = set(GenerateRequest.__dataclass_fields__)
    per_condition = [f"guidance_scale_{name}" for name in app["holder"].supported_conditions()]
    assert "guidance_scale_y" in per_condition and "guidance_scale_motion" in per_condition
    for endpoint in ("/generate", "/preview"):
        names = [p["parameter_name"] for p in api["named_endpoints"][endpoint]["parameters"]]
        assert sorted(names) == sorted(form_fields(app["holder"].supported_conditions())), (endpoint, names)
        assert set(names) - set(per_condition) == set(FORM_FIELDS) <= request_fields, (endpoint, names)
        assert all(p["parameter_has_default"] for p in api["named_endpoints"][endpoint]["parameters"])  # all optional
    assert set(LABELS) == set(FORM_FIELDS)


def test_nothing_in_the_ui_parses_a_command_line():
    """The app builds requests, never argv: no module of videocomposer.ui imports argparse or reads sys.argv."""
    folder = Path(__file__).resolve().parents[2] / "videocomposer" / "ui"
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not any(name.split(".")[0] == "argparse" or "cli" in name.split(".") for name in imported), (
            f"{path.name} imports {sorted(imported)}"
        )
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "argv"], path.name


def test_preview_shows_the_conditions_of_a_video_and_the_drawn_motion(app):
    client = Client(app["url"], verbose=False)
    gif = client.predict(
        **form(video=handle_file(str(app["video"])), image=handle_file(str(app["image"])), motion=json.dumps(STROKE)),
        api_name="/preview",
    )
    with av.open(gif) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert first.shape[1] > 3 * first.shape[0] // 2  # source | local_image | motion side by side


def test_preview_folders_are_removed_beyond_the_newest_and_at_exit():
    from videocomposer.ui.jobs import KEPT_PREVIEWS, new_preview_folder, remove_preview_folders

    folders = [new_preview_folder() for _ in range(KEPT_PREVIEWS + 2)]
    assert [f.is_dir() for f in folders] == [False, False] + [True] * KEPT_PREVIEWS
    remove_preview_folders()
    assert not any(f.exists() for f in folders)


def test_job_folders_never_reuse_a_name(tmp_path):
    names = [new_numbered_dir(tmp_path, "ui-x").name for _ in range(3)]
    assert names == ["ui-x", "ui-x-2", "ui-x-3"]


def test_model_choice_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="--weights-dir: folder not found"):
        resolve_model(str(tmp_path / "none"), None, toy=False)
    with pytest.raises(ValueError, match="not both"):
        resolve_model(str(tmp_path), None, toy=True)
    monkeypatch.setattr("videocomposer.pipelines.toy_model.PACKAGED_TOY_MODEL", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no model: the built-in toy model is missing .* or pass --weights-dir"):
        resolve_model(None, None, toy=False)


def test_the_app_serves_the_built_in_toy_model_by_default():
    """Without --weights-dir the app loads the toy model (a save_pretrained folder holding only the UNet, VAE and
    text tower: it must not ask for the depth and sketch annotators) with its own form defaults."""
    holder = ModelHolder(resolve_model(None, None, toy=False), device="cpu")
    assert holder.source.kind == "toy" and "built-in toy model" in holder.describe()
    assert set(holder.supported_conditions()) == {"y", "local_image", "motion"}  # no style: no CLIP image tower
    assert holder.source.form_defaults()["frames"] == 8 and holder.source.form_defaults()["height"] == 64


# ---------------------------------------------------------------------------------------------- the browser


def chromium_driver(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra has it)")
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(f"no browser: {CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1400,1300",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def requested_urls(driver) -> set[str]:
    urls = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return urls


def test_chromium_draws_motion_generates_and_plays_the_video(app, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium_driver(tmp_path)
    artifacts = Path(os.environ.get("VC_UI_ARTIFACTS", tmp_path))
    try:
        wait = WebDriverWait(driver, 120)
        driver.get(app["url"])
        prompt = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#prompt textarea")))
        prompt.send_keys("A red ball rolling to the right")
        assert "Model in use" in driver.find_element(By.ID, "model-in-use").text

        def tab(name):
            button = wait.until(
                EC.element_to_be_clickable((By.XPATH, f"//button[@role='tab' and contains(., '{name}')]"))
            )
            button.click()

        tab("Images")
        upload = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#first-frame input[type=file]")))
        upload.send_keys(str(app["image"]))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#first-frame img")))

        tab("Motion")
        canvas = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#canvas img")))
        # the first frame (128 x 96), shown enlarged to 512 px
        wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", canvas) == 512)
        width = canvas.size["width"]

        def drawn_points(d):
            text = d.execute_script("return document.querySelector('#trajectory .cm-content').innerText")
            return json.loads(text)["strokes"][0]["points"] if text.strip() else []

        for i, fx in enumerate((0.2, 0.5, 0.8)):  # a stroke from left to right across the middle
            ActionChains(driver).move_to_element_with_offset(canvas, int((fx - 0.5) * width), 0).click().perform()
            wait.until(lambda d, count=i + 1: len(drawn_points(d)) == count)
        drawn = json.loads(driver.execute_script("return document.querySelector('#trajectory .cm-content').innerText"))
        xs = [p[0] for p in drawn["strokes"][0]["points"]]
        assert len(xs) == 3 and xs == sorted(xs) and drawn["width"] == 128 and drawn["height"] == 96

        driver.find_element(By.ID, "generate").click()
        video = WebDriverWait(driver, 300).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#result video")))
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script(
                "const v = arguments[0]; v.muted = true; v.play(); return v.readyState >= 2 && v.currentTime > 0", video
            )
        )
        assert driver.execute_script("return arguments[0].videoWidth", video) == 32
        command = driver.find_element(By.ID, "command").text
        assert "--trajectory" in command and "--image_path" in command
        artifacts.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(artifacts / "ui_chromium.png"))
        print(f"screenshot: {artifacts / 'ui_chromium.png'}")
        external = {
            u
            for u in requested_urls(driver)  # http(s)/ws(s) only: chrome:// is the browser's own tab page
            if u.startswith(("http", "ws")) and not u.startswith(app["url"].rstrip("/"))
        }
        assert not external, f"the page reached beyond the app: {sorted(external)}"
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_an_upload_over_the_limit_is_refused_before_it_is_stored(app, tmp_path):
    """``--max-upload-mb``: the server refuses a larger file and no job starts; a file within it is taken."""
    limits = Limits(upload_mb=1)
    demo = build_app(app["holder"], tmp_path / "outputs", SMALL, limits)
    _, url, _ = launch(demo, tmp_path / "outputs", port=None, block=False, limits=limits)
    try:
        big = tmp_path / "big.png"
        big.write_bytes(app["image"].read_bytes() + b"\0" * (2**20 + 1))  # a PNG with over 1 MB of trailing bytes
        import httpx  # installed with gradio

        # the server refuses it (a client that ignores the app's stated limit) ...
        response = httpx.post(f"{url.rstrip('/')}/gradio_api/upload", files={"files": ("big.png", big.read_bytes())})
        assert response.status_code == 413 and f"maximum allowed size of {2**20} bytes" in response.text
        # ... and gradio_client, which reads the limit from the app, does not send it
        client = Client(url, verbose=False)
        with pytest.raises(Exception, match=f"File {big} exceeds the maximum file size of {2**20} bytes"):
            client.predict(**form(image=handle_file(str(big)), motion=json.dumps(STROKE)), api_name="/generate")
        assert not any((tmp_path / "outputs").iterdir())
        result = client.predict(
            **form(image=handle_file(str(app["image"])), motion=json.dumps(STROKE)), api_name="/generate"
        )
        assert Path(result[3]).parent == tmp_path / "outputs" and "a job may use" in result[4]
    finally:
        demo.close()


def test_serving_beyond_this_machine_needs_a_login(app, tmp_path):
    """``launch`` (as the command) refuses a host other than loopback without a login, before serving anything."""
    demo = build_app(app["holder"], tmp_path / "outputs", SMALL)
    for host in ("0.0.0.0", "192.168.1.20", "::", "myhost.example"):
        with pytest.raises(ValueError, match=f"--host {host} lets other machines reach the app.*--auth USER:PASSWORD"):
            launch(demo, tmp_path / "outputs", host=host, port=None, block=False)
    assert not demo.is_running


def test_the_app_given_an_output_folder_that_is_a_file_refuses_to_start(app, tmp_path):
    taken = tmp_path / "outputs"
    taken.write_text("my notes")
    with pytest.raises(NotADirectoryError, match=f"output path {taken} exists and is not a folder.*--output-dir"):
        build_app(app["holder"], taken, SMALL)
    assert taken.read_text() == "my notes"


def test_a_port_in_use_is_one_line_naming_the_flags(app, tmp_path, capsys):
    port = int(app["url"].rstrip("/").rsplit(":", 1)[1])
    assert main(["ui", "--port", str(port), "--output-dir", str(tmp_path / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"videocomposer ui: error: cannot serve on --host 127.0.0.1 --port {port}: Cannot find empty port in range: "
        f"{port}-{port}; choose another --port (or --host)\n"
    )
