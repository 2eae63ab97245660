"""``videocomposer ui`` safe to share: a login beyond this machine, a refused output path that is a file, limits on the
form's text and on each job's disk use (checked without a browser and without gradio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videocomposer.app import GenerateRequest, RequestError
from videocomposer.cli import main
from videocomposer.ui import jobs
from videocomposer.ui.access import MB, Limits, check_access, exposure_warning, is_loopback, parse_login, read_auth_file
from videocomposer.ui.jobs import FormJob, form_request, run_generation

REFUSAL = (
    "videocomposer ui: error: --host {host} lets other machines reach the app, and whoever reaches it can run jobs "
    "and download their files: give a login with --auth USER:PASSWORD or --auth-file FILE (one USER:PASSWORD per "
    "line), or pass --allow-unauthenticated to serve without one\n"
)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.2", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_hosts_reach_this_machine_only(host):
    assert is_loopback(host)
    check_access(host, [])
    assert exposure_warning(host, []) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "myhost", "localhost.example.com"])
def test_any_other_host_needs_a_login_or_the_explicit_opt_out(host, tmp_path, capsys):
    assert not is_loopback(host)
    out = tmp_path / "outputs"
    assert main(["ui", "--host", host, "--output-dir", str(out)]) == 2
    assert capsys.readouterr().err == REFUSAL.format(host=host)
    assert not out.exists()  # refused before anything was created or loaded
    check_access(host, [("me", "secret")])
    check_access(host, [], allow_unauthenticated=True)
    assert "without a login (--allow-unauthenticated)" in exposure_warning(host, [])
    assert exposure_warning(host, [("me", "secret")]) is None


def test_logins_from_the_flag_and_from_a_file(tmp_path):
    assert parse_login("me:se:cret") == ("me", "se:cret")
    for bad in ("me", "me:", ":secret", ""):
        with pytest.raises(ValueError, match="^--auth must be USER:PASSWORD"):
            parse_login(bad)
    file = tmp_path / "logins.txt"
    file.write_text("# who may use the app\nme:secret\n\n  you:other  \n")
    assert read_auth_file(file) == [("me", "secret"), ("you", "other")]
    file.write_text("me:secret\nno-password-here\n")
    with pytest.raises(ValueError, match=f"^--auth-file {file} line 2 must be USER:PASSWORD") as raised:
        read_auth_file(file)
    assert "secret" not in str(raised.value)  # a password is never echoed
    file.write_text("# nothing\n")
    with pytest.raises(ValueError, match=f"^--auth-file {file}: no login in it"):
        read_auth_file(file)
    with pytest.raises(ValueError, match=f"^--auth-file {tmp_path / 'none'}: cannot read it"):
        read_auth_file(tmp_path / "none")


def test_an_output_folder_that_is_a_file_is_refused_at_startup(tmp_path, capsys):
    taken = tmp_path / "outputs"
    taken.write_text("my notes")
    assert main(["ui", "--output-dir", str(taken)]) == 2
    assert capsys.readouterr().err == (
        f"videocomposer ui: error: output path {taken} exists and is not a folder; choose another --output-dir\n"
    )
    assert taken.read_text() == "my notes"


@pytest.mark.parametrize(
    "flags", [["--port", "0"], ["--port", "70000"], ["--port", "web"], ["--max-upload-mb", "0"], ["--max-job-mb", "-5"]]
)
def test_ports_and_limits_out_of_range_are_refused_by_the_parser(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ui", *flags])
    assert exit_info.value.code == 2
    assert f"argument {flags[0]}: expected" in capsys.readouterr().err


def test_the_help_states_every_limit_and_the_access_rule(capsys):
    with pytest.raises(SystemExit):
        main(["ui", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    limits = Limits()
    for phrase in (
        f"each uploaded file at most --max-upload-mb (default {limits.upload_mb} MB",
        f"the prompt and the negative prompt at most {limits.prompt_chars:,} characters each",
        f"the trajectory JSON text (typed, drawn or loaded) at most {limits.trajectory_chars:,} characters",
        f"each job's folder (its copied inputs and outputs) at most --max-job-mb (default {limits.job_mb} MB)",
        "it needs a login, --auth USER:PASSWORD or --auth-file FILE, or an explicit --allow-unauthenticated",
    ):
        assert phrase in text, phrase


def test_the_form_s_text_is_bounded_before_it_is_read():
    limits = Limits(trajectory_chars=100, prompt_chars=20)
    values = {"task": "compose", "conditions": ["y"], "seed": 1}
    assert form_request({**values, "prompt": "x" * 20}, limits=limits).request.prompt == "x" * 20
    with pytest.raises(RequestError) as raised:
        form_request({**values, "prompt": "x" * 21}, limits=limits)
    assert raised.value.field == "prompt" and raised.value.render({"prompt": "Prompt"}) == (
        "Prompt: at most 20 characters, got 21"
    )
    with pytest.raises(RequestError, match="^negative_prompt: at most 20 characters, got 30"):
        form_request({**values, "prompt": "a", "negative_prompt": "n" * 30}, limits=limits)
    long_json = '{"width": 64, "height": 64, "strokes": []}' + " " * 100
    with pytest.raises(ValueError, match="^Trajectory JSON: at most 100 characters, got 142$"):
        form_request({**values, "prompt": "a", "motion": long_json}, "Trajectory JSON", limits)
    assert form_request({**values, "prompt": "a", "motion": long_json.strip()}, limits=limits).trajectory is not None


class FakeHolder:
    """A served model whose generation ``write`` decides what a job writes."""

    class source:  # noqa: N801  (stands in for ModelSource)
        @staticmethod
        def request_fields():
            return {"weights_dir": "toy", "model_config": None}

    device = "cpu"

    def pipeline(self):
        return None


def fake_generation(monkeypatch, size: int, calls: list):
    def generate(request, pipe=None):
        calls.append(request)
        folder = Path(request.output_dir) / "run"
        folder.mkdir()
        (folder / "out.mp4").write_bytes(b"\0" * size)
        (folder / "out_grid.gif").write_bytes(b"\0" * 10)
        return type("Result", (), {"files": [folder / "out.mp4", folder / "out_grid.gif"]})()

    monkeypatch.setattr(jobs, "generate", generate)


def test_a_job_s_disk_use_is_reported_and_bounded(tmp_path, monkeypatch):
    limits, calls = Limits(job_mb=1), []
    job = FormJob(GenerateRequest(task="compose", conditions="y", prompt="a red ball", seed=1))
    fake_generation(monkeypatch, MB // 2, calls)
    result = run_generation(job, FakeHolder(), tmp_path / "out", limits)
    used = sum(p.stat().st_size for p in result.folder.rglob("*") if p.is_file())
    assert result.disk_bytes == used >= MB // 2 and result.folder.is_absolute()
    assert result.status(limits) == (
        f"Saved in {result.folder}: {used / MB:.1f} MB of the 1 MB a job may use (2 output files and the copied inputs)"
    )
    fake_generation(monkeypatch, MB + 1, calls)  # this job writes more than a job may
    with pytest.raises(ValueError, match=r"^the job used 1\.0 MB in all, over the 1 MB a job may use .*--max-job-mb"):
        run_generation(job, FakeHolder(), tmp_path / "out", limits)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [result.folder.name]  # the job's folder was removed


def test_a_job_whose_inputs_exceed_the_limit_never_runs(tmp_path, monkeypatch):
    calls: list = []
    fake_generation(monkeypatch, 10, calls)
    image = tmp_path / "first.png"
    image.write_bytes(b"\0" * (MB + 1))
    job = FormJob(GenerateRequest(task="compose", conditions="y,local_image", prompt="a", image=str(image), seed=1))
    with pytest.raises(ValueError, match=r"^the job used 1\.0 MB for its inputs, over the 1 MB a job may use"):
        run_generation(job, FakeHolder(), tmp_path / "out", Limits(job_mb=1))
    assert calls == [] and list((tmp_path / "out").iterdir()) == []


def test_a_job_starts_only_while_the_disk_has_room_for_it(tmp_path, monkeypatch):
    calls: list = []
    fake_generation(monkeypatch, 10, calls)
    monkeypatch.setattr(jobs.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 5 * MB})())
    job = FormJob(GenerateRequest(task="compose", conditions="y", prompt="a", seed=1))
    with pytest.raises(ValueError, match=f"^the disk of {tmp_path / 'out'} has 5 MB free, less than the 10 MB"):
        run_generation(job, FakeHolder(), tmp_path / "out", Limits(job_mb=10))
    assert calls == [] and list((tmp_path / "out").iterdir()) == []
