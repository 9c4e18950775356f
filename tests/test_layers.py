"""The layers the tree shows hold: ``core`` imports nothing of the server, training or the
command line; the server imports no training; and the shipped server plays, renders and
adds a note with ``morphsynth.training`` unimportable."""

import ast
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from pythonosc.udp_client import SimpleUDPClient

from serve_support import env_without_jack, free_port, wait_for_status_reply

REPO = Path(__file__).resolve().parents[1]
CLI_MODULES = {"morphsynth.main", "morphsynth.__main__"} | {
    f"morphsynth.{p.stem}" for p in (REPO / "cli").glob("cmd_*.py")}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (at the top or inside functions), as absolute names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def offending(folder: str, forbidden) -> dict[str, list[str]]:
    files = sorted((REPO / folder).glob("*.py"))
    assert files, f"no modules found under {folder}/"
    bad = {}
    for path in files:
        hits = sorted(m for m in imported_modules(path) if forbidden(m))
        if hits:
            bad[path.name] = hits
    return bad


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_core_imports_nothing_from_the_server_training_or_command_line():
    assert len(CLI_MODULES) > 4
    assert offending("core", lambda m: _under(m, "morphsynth.server") or _under(m, "morphsynth.training")
                     or m in CLI_MODULES) == {}


def test_the_server_imports_no_training_and_no_command_line():
    assert offending("server", lambda m: _under(m, "morphsynth.training") or m in CLI_MODULES) == {}


def test_the_command_line_folder_holds_only_the_command_line():
    names = sorted(p.name for p in (REPO / "cli").glob("*.py"))
    assert names and all(n in ("__init__.py", "__main__.py", "main.py") or n.startswith("cmd_") for n in names), names


def test_the_import_finder_catches_what_the_static_check_cannot_see():
    """The checks above read source; the blocker used below works at run time, even for an
    import spelled in a string."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests" / "scripts" / "without_training"))
    proc = subprocess.run([sys.executable, "-c", "import importlib; importlib.import_module('morphsynth.training.train')"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode != 0 and "morphsynth.training is blocked" in proc.stderr


def reply(client, address, timeout=60.0):
    """The next message to ``client`` at ``address``, skipping answers to readiness probes."""
    while (msg := next(client.get_messages(timeout))).address == "/status.reply" and address != "/status.reply":
        pass
    return msg


@pytest.mark.slow
def test_the_shipped_server_plays_renders_and_adds_a_note_with_training_blocked(tmp_path):
    from morphsynth.training.soundfont import FLUID_R3, render_note

    if not FLUID_R3.is_file():
        pytest.skip(f"{FLUID_R3} is missing (bash scripts/setup.sh installs fluid-soundfont-gm)")
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "flute.wav", render_note(FLUID_R3, 73, 64), 16000)
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump({"renderer": {"prerender_all": False},
                                      "paths": {"input_dir": str(tmp_path / "in"), "output_dir": str(tmp_path / "out")}}))
    blocked_log = tmp_path / "blocked.txt"
    port = free_port()
    record = tmp_path / "take.wav"
    env = env_without_jack(PYTHONPATH=str(REPO / "tests" / "scripts" / "without_training"),
                           MORPHSYNTH_BLOCKED_LOG=str(blocked_log))
    env.pop("MORPHSYNTH_MODEL", None)              # the shipped model and library
    proc = subprocess.Popen(
        [sys.executable, "-m", "morphsynth", "serve", "--config", str(config), "--audio", "null",
         "--record", str(record), "--midi", "none", "--port", str(port), "--tcp-port", "0"],
        stderr=subprocess.PIPE, text=True, env=env)
    try:
        c = SimpleUDPClient("127.0.0.1", port)
        wait_for_status_reply(c, proc, timeout=120)
        c.send_message("/note/on", [60, 100])
        c.send_message("/sync", [1])
        assert reply(c, "/synced").params == [1]
        c.send_message("/note/off", [60])
        c.send_message("/library/add", ["flute.wav", "my_flute"])
        assert reply(c, "/done").params == ["/library/add", "my_flute"]
        c.send_message("/morph/sources", ["my_flute"])
        c.send_message("/render", ["mine.wav", 64, 100, 1.0])
        msg = reply(c, "/done")
        assert msg.params == ["/render", "mine.wav"], msg
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    err = proc.stderr.read()
    assert rc == 0, err
    assert not blocked_log.exists(), blocked_log.read_text()
    rendered, _ = sf.read(tmp_path / "out" / "mine.wav")
    taken, _ = sf.read(record)
    assert np.max(np.abs(rendered)) > 1e-3 and np.max(np.abs(taken)) > 1e-3, err
