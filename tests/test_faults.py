"""Faults on stage: a full disk or read-only folder during /render, corrupt model, library
or config, SIGTERM during renders, fatal errors at start. (The audio device and MIDI
port vanishing are in test_faults_jack.py.)"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
from pythonosc.udp_client import SimpleUDPClient

from fuzz_corpus import build_fuzz_server
from morphsynth.server.osc_packets import build_message
from osc_doubles import CollectingSender
from serve_support import env_without_jack, free_port, one_line_error, wait_for_status_reply


def mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return proc.returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("fault, options", [("disk full", "size=64k"), ("read-only folder", "size=1m,ro")])
def test_render_onto_a_full_or_read_only_disk_fails_once_and_leaves_no_partial_file(fuzz_parts, tmp_path, fault,
                                                                                   options):
    out = tmp_path / "out"
    if not mount_tmpfs(out, options):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        server = build_fuzz_server(*fuzz_parts, tmp_path)
        try:
            server.controls.output_dir = out
            sender = CollectingSender()
            # 2 s of float32 at 48 kHz is 384 KB: more than the 64 KB disk holds.
            server.osc.feed(build_message("/render", "take.wav", 60, 100, 2.0), sender)
            fail = sender.wait_for("/fail", timeout=60)
            assert fail is not None and fail[1] == "/render" and "take.wav" in fail[2], sender.replies
            time.sleep(0.1)
            assert len(sender.replies) == 1, sender.replies
            assert list(out.iterdir()) == []                 # no partial file, no temporary
            # The server goes on: a /status answers, a note plays.
            server.osc.feed(build_message("/status"), sender)
            assert sender.wait_for("/status.reply", timeout=5) is not None
        finally:
            server.stop()
    finally:
        umount(out)


def serve(parts, *extra, env=None, **kw):
    model_dir, library = parts
    return [sys.executable, "-m", "morphsynth", "serve", "--audio", "null", "--midi", "none",
            "--tcp-port", "0", *extra], env_without_jack(**(env or {}))


def copy_model(parts, dest: Path) -> tuple[Path, Path]:
    import shutil

    model_dir, library = parts
    shutil.copytree(model_dir, dest)
    return dest, dest / Path(library).name


@pytest.mark.parametrize("what", ["checkpoint", "model.json", "library", "config"])
def test_corrupt_input_gives_one_line_error_naming_it_and_non_zero_exit(fuzz_parts, tmp_path, what):
    model_dir, library = copy_model(fuzz_parts, tmp_path / "model")
    extra = ["--model", str(model_dir), "--library", str(library), "--port", "0"]
    culprit = {"checkpoint": model_dir / "model.safetensors", "model.json": model_dir / "model.json", "library": library, "config": tmp_path / "serve.yaml"}[what]
    if what == "checkpoint":
        culprit.write_bytes(culprit.read_bytes()[:1000] + os.urandom(64))   # truncated, then garbage
    elif what == "model.json":
        culprit.write_text("{\"format_version\": ")
    elif what == "library":
        culprit.write_bytes(b"\x00" * 64 + os.urandom(512))
    else:
        culprit.write_text("audio: {polyphony: [1, 2}\n")
        extra += ["--config", str(culprit)]
    cmd, env = serve(fuzz_parts, *extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    line = one_line_error(proc)
    assert line.startswith("morphsynth: error:") and culprit.name in line, line


def test_port_already_taken_is_a_fatal_one_line_error_with_non_zero_exit(fuzz_parts, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        cmd, env = serve(fuzz_parts, "--model", str(fuzz_parts[0]), "--library", str(fuzz_parts[1]),
                         "--port", str(port))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    line = one_line_error(proc)
    assert str(port) in line


def test_sigterm_during_renders_exits_cleanly_and_leaves_only_whole_files(fuzz_parts, tmp_path):
    port = free_port()
    out = tmp_path / "out"
    config = tmp_path / "serve.yaml"
    config.write_text(f"renderer:\n  prerender_all: false\npaths:\n  output_dir: {out}\n")
    cmd, env = serve(fuzz_parts, "--config", str(config), "--model", str(fuzz_parts[0]), "--library", str(fuzz_parts[1]),
                     "--port", str(port))
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        c = SimpleUDPClient("127.0.0.1", port)
        wait_for_status_reply(c, proc, timeout=90)
        for i in range(20):
            c.send_message("/render", [f"r{i}.wav", 48 + i, 100, 3.0])
        c.send_message("/note/on", [60, 100])
        # Wait for the first render to finish: the others are queued or running.
        deadline = time.monotonic() + 60
        while not any(out.glob("r*.wav")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    err = proc.stderr.read()
    assert rc == 0, err
    assert "Traceback" not in err
    files = sorted(out.iterdir())
    assert files and all(f.suffix == ".wav" and not f.name.startswith(".") for f in files), files
    for f in files:
        audio, rate = sf.read(f)
        assert rate == 48000 and len(audio) == 3 * 48000
