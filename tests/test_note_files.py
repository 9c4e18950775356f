"""Bad sounds are refused up front, with the file and the reason: too low a sample rate,
too short, more than one note, silence, clipping, no steady pitch; through library add
(CLI and OSC) and dataset import before anything is encoded or written."""

import numpy as np
import pytest
import soundfile as sf

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.note_files import clipped_samples, load_note, note_problems
from morphsynth.main import main

SR = 44100


def tone(hz=440.0, seconds=1.0, peak=0.5, rate=SR):
    t = np.arange(int(seconds * rate)) / rate
    decay = np.exp(-t / 2.0)
    x = np.sin(2 * np.pi * hz * t) * decay
    return (peak * x / np.abs(x).max()).astype(np.float32)


def test_a_clean_note_passes_even_normalised_to_full_scale():
    assert note_problems(tone(), SR) == []
    assert note_problems(tone(55.0, peak=1.0), SR) == []
    assert clipped_samples(tone(30.0, peak=1.0)) == 0


@pytest.mark.parametrize("audio,rate,reason", [
    (tone(rate=8000), 8000, "sample rate 8000 Hz is below the model's 16000 Hz"),
    (tone(seconds=45.0), SR, "45.0 s long: one note per file"),
    (np.zeros(SR, np.float32), SR, "silent"),
    (tone(peak=1e-4), SR, "silent (peak -80 dBFS"),
    (np.concatenate([np.zeros(SR, np.float32), tone(seconds=0.03)]), SR, "ms of sound (at least 100 ms)"),
    (np.clip(tone(peak=3.0), -1.0, 1.0), SR, "clipped:"),
    (np.full(SR, np.nan, np.float32), SR, "NaN"),
])
def test_each_problem_is_named(audio, rate, reason):
    problems = note_problems(audio, rate)
    assert any(reason in p for p in problems), problems


def test_load_note_names_the_file_and_every_problem(tmp_path):
    bad = tmp_path / "hot_and_low.wav"
    sf.write(bad, np.clip(tone(rate=11025, peak=4.0), -1.0, 1.0), 11025, subtype="FLOAT")
    with pytest.raises(MorphsynthError) as err:
        load_note(bad, 16000)
    text = str(err.value)
    assert text.startswith(f"{bad}: ") and "sample rate 11025 Hz" in text and "clipped" in text
    assert "\n" not in text


def test_a_noise_burst_has_no_pitch_unless_one_is_given(tmp_path):
    noise = tmp_path / "snare.wav"
    rng = np.random.default_rng(0)
    sf.write(noise, (0.3 * rng.standard_normal(SR) * np.exp(-np.arange(SR) / 4000)).astype(np.float32), SR)
    with pytest.raises(MorphsynthError, match="no steady pitch detected.*give its pitch") as err:
        load_note(noise, 16000)
    assert str(noise) in str(err.value)
    audio, pitch = load_note(noise, 16000, pitch=38)
    assert pitch == 38 and audio.shape == (16000,)
    with pytest.raises(MorphsynthError, match="pitch 200 is not a MIDI key"):
        load_note(noise, 16000, pitch=200)


def test_library_add_refuses_a_clipped_file_and_leaves_the_library_alone(fuzz_parts, tmp_path, capsys):
    model_dir, library = fuzz_parts
    clipped = tmp_path / "clipped.wav"
    sf.write(clipped, np.clip(tone(peak=3.0), -1.0, 1.0), SR, subtype="FLOAT")
    out = tmp_path / "extended.safetensors"
    assert main(["library", "add", "--library", str(library), "--model", str(model_dir), "--audio", str(clipped),
                 "--name", "hot", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(clipped) in err[0] and "clipped" in err[0]
    assert not out.exists()


def test_osc_library_add_fails_with_the_file_and_the_reason(fuzz_server, tmp_path):
    from osc_doubles import CollectingSender
    from morphsynth.server.osc_packets import build_message

    silent = fuzz_server.controls.input_dir / "quiet.wav"
    silent.parent.mkdir(parents=True, exist_ok=True)
    sf.write(silent, np.zeros(SR, np.float32), SR)
    s = CollectingSender()
    fuzz_server.osc.feed(build_message("/library/add", "quiet.wav", "quiet"), s)
    address, *args = s.wait_for("/fail", 30)
    assert args[0] == "/library/add" and "quiet.wav" in args[1] and "silent" in args[1]
    assert "quiet" not in fuzz_server.renderer.library.names


def test_dataset_import_checks_every_file_before_writing_any(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    sf.write(samples / "organ_C4.wav", tone(261.6), SR)
    sf.write(samples / "organ_D4.wav", np.clip(tone(293.7, peak=3.0), -1.0, 1.0), SR, subtype="FLOAT")
    out = tmp_path / "data"
    with pytest.raises(MorphsynthError, match=r"organ_D4\.wav: clipped"):
        from morphsynth.training.dataset_folder import import_folder

        import_folder(samples, out)
    assert not out.exists() or not any(out.rglob("*.wav"))
