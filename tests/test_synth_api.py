"""`from morphsynth import Synth`: the synthesizer in a notebook, no server; the command
line renders through it."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.pitch import autocorrelation_f0, cents_off
from morphsynth.main import main


@pytest.fixture(scope="module")
def synth():
    from morphsynth import Synth

    with Synth() as s:          # the shipped model and library
        yield s


def test_importing_the_package_and_synth_loads_no_torch_before_a_model_is_loaded():
    code = ("import sys; from morphsynth import Synth, __version__; "
            "assert Synth.__module__ == 'morphsynth.server.synth' and 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_render_returns_a_note_in_tune_at_the_synths_rate(synth):
    audio = synth.render(synth.morph("flute"), pitch=64, velocity=100)
    assert audio.dtype == np.float32 and audio.shape == (4 * synth.sample_rate,)
    f0 = autocorrelation_f0(audio, synth.sample_rate, start_s=0.3, dur_s=1.0)
    assert abs(cents_off(f0, 64)) < 50, f0
    longer = synth.render("flute", pitch=64, duration=6.0)
    assert longer.shape == (6 * synth.sample_rate,)


def test_a_morph_of_two_sources_differs_from_either_and_xy_needs_four_corners(synth):
    a, b = synth.sources[0], synth.sources[-1]
    mixed = synth.render(synth.morph(a, b, weights=(1.0, 1.0)), pitch=60)
    assert not np.allclose(mixed, synth.render(a, pitch=60)) and not np.allclose(mixed, synth.render(b, pitch=60))
    corners = synth.sources[:4]
    assert synth.render(synth.morph(*corners, xy=(0.0, 0.0)), pitch=60).shape == mixed.shape
    with pytest.raises(MorphsynthError, match="xy needs exactly four sources"):
        synth.morph(a, b, xy=(0.5, 0.5))


@pytest.mark.parametrize("call, message", [
    (lambda s: s.morph("no_such_instrument"), "no_such_instrument"),
    (lambda s: s.morph(), "at least one source"),
    (lambda s: s.render("flute", pitch=200), "pitch 200"),
    (lambda s: s.render("flute", pitch=60.5), "pitch 60.5"),
    (lambda s: s.render("flute", velocity=0), "velocity 0"),
    (lambda s: s.render("flute", duration=-1.0), "duration -1.0"),
])
def test_bad_arguments_are_one_line_errors(synth, call, message):
    with pytest.raises(MorphsynthError, match=message) as err:
        call(synth)
    assert "\n" not in str(err.value)


def test_the_command_line_writes_what_synth_render_returns(synth, tmp_path):
    out = tmp_path / "note.wav"
    assert main(["render", "--source", "flute", "--source", "string:0.5", "--pitch", "55", "--velocity", "90",
                 "--out", str(out)]) == 0
    written, rate = sf.read(out, dtype="float32")
    expected = synth.render(synth.morph("flute", "string", weights=(1.0, 0.5)), pitch=55, velocity=90)
    peak = float(np.abs(expected).max())
    if peak > 0.999:            # the CLI never writes a clipped file
        expected = expected * (0.99 / peak)
    assert rate == synth.sample_rate and written.shape == expected.shape
    assert np.max(np.abs(written - expected)) < 2e-6 * 8   # 24-bit PCM


def test_add_encodes_a_note_of_ones_own_and_save_library_keeps_it(tmp_path):
    from morphsynth import Synth
    from morphsynth.training.soundfont import FLUID_R3, render_note

    wav = tmp_path / "my_flute.wav"
    sf.write(wav, render_note(FLUID_R3, 73, 67, sample_rate=44100), 44100)
    with Synth() as s:
        assert s.add(wav, "my_flute") == 67
        audio = s.render("my_flute", pitch=67)
        assert abs(cents_off(autocorrelation_f0(audio, s.sample_rate, start_s=0.3), 67)) < 50
        saved = s.save_library(tmp_path / "mine.safetensors")
        clipped = tmp_path / "clipped.wav"
        note = render_note(FLUID_R3, 73, 67)
        sf.write(clipped, np.clip(3.0 * note / np.abs(note).max(), -1, 1), 16000, subtype="FLOAT")
        with pytest.raises(MorphsynthError, match="clipped"):
            s.add(clipped, "hot")
        assert "hot" not in s.sources
    with Synth(library=saved) as again:
        assert "my_flute" in again.sources


def test_export_writes_an_sfz_whose_samples_are_the_synths_own_renders(synth, tmp_path):
    written = synth.export(tmp_path / "flute_sfz", "flute", keys=(60, 72), velocities=(100,))
    assert [p.suffix for p in written] == [".sfz"]
    text = written[0].read_text()
    samples = [line.split("sample=")[1].split()[0] for line in text.splitlines() if "sample=" in line]
    assert len(samples) == 2 and all((written[0].parent / s).is_file() for s in samples)
    audio, rate = sf.read(written[0].parent / samples[0], dtype="float32")
    assert rate == synth.sample_rate
    assert abs(cents_off(autocorrelation_f0(audio, rate, start_s=0.3), 60)) < 50
    with pytest.raises(MorphsynthError, match="not both"):
        synth.export(tmp_path / "x", "flute", grid=(synth.sources[:4], 2))
