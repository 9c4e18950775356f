"""The server does not open the machine: loopback by default, an allow-list off loopback,
file paths confined to their folders, sizes and counts bounded, nothing unpickled,
YAML safe-loaded. All traffic goes to loopback addresses."""

import os
import pickle
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from fuzz_corpus import CountingSender, build_fuzz_server
from morphsynth.core.errors import MorphsynthError
from morphsynth.server.osc_packets import MAX_TCP_PACKET, build_message
from morphsynth.server.osc_server import OscServer
from morphsynth.server.server_config import ServeConfig
from serve_support import env_without_jack, free_port, one_line_error

REPO = Path(__file__).resolve().parents[1]


def serve_cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "morphsynth", "serve", *args], capture_output=True,
                          text=True, timeout=timeout, env=env_without_jack())


def test_serve_listens_on_loopback_by_default(fuzz_server):
    assert ServeConfig().osc.host == "127.0.0.1"
    fuzz_server.osc.start()
    assert fuzz_server.osc._udp.getsockname()[0] == "127.0.0.1"


def test_host_0000_alone_exits_non_zero_naming_the_allow_remote_flag(tmp_path):
    proc = serve_cli("--host", "0.0.0.0", "--audio", "null", "--midi", "none", "--model", str(tmp_path / "none"))
    line = one_line_error(proc)
    assert proc.returncode == 2 and "--allow-remote" in line and "0.0.0.0" in line


def test_allow_remote_with_a_bad_address_is_refused_by_name(tmp_path):
    proc = serve_cli("--host", "0.0.0.0", "--allow-remote", "10.0.0.1,not-an-ip", "--audio", "null",
                     "--midi", "none", "--model", str(tmp_path / "none"))
    assert "not-an-ip" in one_line_error(proc)


def test_config_with_a_public_host_and_no_allow_list_is_refused(tmp_path):
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("osc:\n  host: 0.0.0.0\n")
    proc = serve_cli("--config", str(cfg), "--audio", "null", "--midi", "none", "--model", str(tmp_path / "m"))
    line = one_line_error(proc)
    assert "serve.yaml" in line and "--allow-remote" in line


def test_osc_server_refuses_a_public_bind_without_allow_list():
    with pytest.raises(MorphsynthError, match="allow-remote"):
        OscServer(controls=None, info=dict, host="0.0.0.0", port=0, tcp_port=None)


def test_off_loopback_only_listed_clients_are_served_and_others_get_no_reply(fuzz_parts, tmp_path):
    s = build_fuzz_server(*fuzz_parts, tmp_path)
    s.stop()  # only its control state is reused, by a server bound to every interface
    osc = OscServer(s.controls, s.info, host="0.0.0.0", port=0, tcp_port=None, allow=["127.0.0.2"])
    osc.start()
    try:
        listed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listed.bind(("127.0.0.2", 0))
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(("127.0.0.1", 0))
        for sock in (listed, other):
            sock.settimeout(1.0)
            sock.sendto(build_message("/status"), ("127.0.0.1", osc.udp_port))
        assert listed.recvfrom(65536)[0].startswith(b"/status.reply")
        with pytest.raises(socket.timeout):
            other.recvfrom(65536)
        assert osc.refused == 1
        listed.close()
        other.close()
    finally:
        osc.stop()


@pytest.mark.parametrize("path, why", [
    ("../escape.wav", "'..'"), ("sub/../../escape.wav", "'..'"), ("/tmp/escape.wav", "outside"),
    ("link/escape.wav", "outside"), ("x.txt", ".wav"),
])
def test_render_paths_are_confined_to_the_output_folder(fuzz_server, tmp_path, path, why):
    out = Path(fuzz_server.controls.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "link").symlink_to(outside)
    sender = CountingSender()
    fuzz_server.osc.feed(build_message("/render", path, 60, 100, 0.1), sender)
    assert len(sender.replies) == 1 and sender.replies[0][:2] == ("/fail", "/render")
    assert why in sender.replies[0][2]
    assert list(outside.iterdir()) == [] and not Path("/tmp/escape.wav").exists()


def test_library_add_cannot_read_outside_the_input_folder(fuzz_server, tmp_path):
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF")
    inp = Path(fuzz_server.controls.input_dir)
    (inp / "link.wav").symlink_to(secret)
    names = fuzz_server.controls.library_names()
    for path in ("../secret.wav", str(secret), "link.wav"):
        sender = CountingSender()
        fuzz_server.osc.feed(build_message("/library/add", path, "stolen"), sender)
        assert len(sender.replies) == 1 and sender.replies[0][:2] == ("/fail", "/library/add"), sender.replies
    assert fuzz_server.controls.library_names() == names


def test_sizes_and_counts_are_bounded(fuzz_server):
    c = fuzz_server.controls
    sender = CountingSender()
    # Render duration: 60 s at most.
    fuzz_server.osc.feed(build_message("/render", "long.wav", 60, 100, 61.0), sender)
    assert sender.replies[-1][:2] == ("/fail", "/render") and "60" in sender.replies[-1][2]
    # Voices: never more than the polyphony, however many notes arrive.
    out = np.zeros(256, np.float32)
    note = fuzz_server.renderer.render_note(c.current_morph().validate(), 60, 100)
    for i in range(300):
        fuzz_server.engine.note_on(30 + i % 70, note)
    for _ in range(4):
        fuzz_server.engine.process(out)
    assert fuzz_server.engine.active_voices() == fuzz_server.engine.polyphony == 64
    # The engine's command ring: full means dropped (and counted), never growing.
    dropped = fuzz_server.engine.dropped_commands
    for _ in range(fuzz_server.engine.ring.size + 10):
        fuzz_server.engine.note_off(60)
    assert fuzz_server.engine.dropped_commands >= dropped + 10
    # Asynchronous jobs: the queue holds 64; beyond that /fail at once. A job that waits on
    # a gate keeps the worker busy, so the bound is reached however fast the machine is.
    gate = threading.Event()
    fuzz_server.osc.jobs.submit(lambda: gate.wait(10))
    fails = 0
    try:
        for i in range(200):
            s = CountingSender()
            fuzz_server.osc.feed(build_message("/sync", i), s)
            fails += sum(1 for r in s.replies if r[0] == "/fail" and "queue is full" in r[2])
    finally:
        gate.set()
    assert fails >= 200 - 64
    # Config: polyphony and block size have ranges.
    from morphsynth.server.server_config import AudioSettings

    with pytest.raises(ValueError, match="polyphony"):
        AudioSettings(polyphony=100000).validate()


def test_tcp_packet_over_the_size_bound_is_refused_and_the_connection_closed(fuzz_parts, tmp_path):
    port = free_port(socket.SOCK_STREAM)
    s = build_fuzz_server(*fuzz_parts, tmp_path, tcp_port=port)
    s.osc.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall((MAX_TCP_PACKET + 4).to_bytes(4, "big"))
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
        assert b"/fail" in data and b"too large" in data
    finally:
        s.stop()


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['MS_MARKER']}",))


def test_a_pickled_checkpoint_is_refused_without_running_it(fuzz_parts, tmp_path, monkeypatch):
    from morphsynth.core.synth_model import load_synth_model

    marker = tmp_path / "pwned"
    monkeypatch.setenv("MS_MARKER", str(marker))
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text((Path(fuzz_parts[0]) / "model.json").read_text())
    (model / "model.safetensors").write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(MorphsynthError, match="safetensors"):
        load_synth_model(model)
    assert not marker.exists()


def test_no_code_path_unpickles():
    pattern = re.compile(r"pickle\.loads?\(|torch\.load\(|numpy\.load\(.*allow_pickle=True|np\.load\(.*allow_pickle=True"
                         r"|yaml\.load\(|yaml\.unsafe_load|yaml\.full_load")
    sources = {folder: sorted((REPO / folder).rglob("*.py")) for folder in ("core", "server", "training", "cli")}
    assert all(sources.values()), {folder: len(files) for folder, files in sources.items()}
    hits = [f"{p.relative_to(REPO)}:{i + 1}" for files in sources.values() for p in files
            for i, line in enumerate(p.read_text().splitlines()) if pattern.search(line)]
    assert hits == []


def test_yaml_config_with_a_python_object_tag_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(f"osc: !!python/object/apply:os.system ['touch {marker}']\n")
    proc = serve_cli("--config", str(cfg), "--audio", "null", "--midi", "none", "--model", str(tmp_path / "m"))
    line = one_line_error(proc)
    assert "evil.yaml" in line
    assert not marker.exists()
