"""Renderer and `morphsynth render`: notes, ramps, knobs, loops, durations, pre-render, CLI errors."""

import threading

import numpy as np
import pytest
import soundfile as sf
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import main
from morphsynth.server.library import Library, NoteEntry, build_library
from morphsynth.server.morph import Morph, xy_weights
from morphsynth.server.renderer import RenderedNote, Renderer, find_loop, fit_duration, loop_seam_correlation
from morphsynth.core.pitch import autocorrelation_f0, cents_off
from morphsynth.training.nsynth import list_examples
from test_audio_support import small_cae


def train_small_cae(dataset, out, steps=150):
    """A small CAE trained briefly on the tiny dataset: enough for pitch from conditioning."""
    from morphsynth.training.nsynth import load_examples
    from morphsynth.core.spectral import magnitude
    from morphsynth.core.synth_model import save_synth_model

    examples, audio = load_examples(dataset)
    mag = magnitude(torch.from_numpy(audio))
    pitch = torch.tensor([e.pitch for e in examples])
    velocity = torch.tensor([e.velocity for e in examples])
    net = small_cae(seed=0)
    logmag = torch.log(mag + 1e-4)
    net.set_normalisation(logmag.mean(dim=(0, 2)), logmag.std())
    x = net.mag_to_features(mag)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, len(examples), (8,), generator=g)
        y, _ = net(x[idx], pitch[idx], velocity[idx])
        loss = (y - x[idx]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_synth_model(net, out, name="small")
    return out


@pytest.fixture(scope="module")
def model_dir(tiny_dataset, tmp_path_factory):
    # The shared two-epoch tiny model barely depends on its latent and misses pitches;
    # the pitch and morph checks here need a model that learned a little more.
    return train_small_cae(tiny_dataset, tmp_path_factory.mktemp("small_model") / "model")


@pytest.fixture(scope="module")
def model(model_dir):
    from morphsynth.core.synth_model import load_synth_model

    return load_synth_model(model_dir)


@pytest.fixture(scope="module")
def library_path(model, tiny_dataset, tmp_path_factory):
    n = model.stft.n_samples(model.n_frames)
    examples = list_examples(tiny_dataset)
    assert examples, f"no notes found in {tiny_dataset}"
    notes = (NoteEntry(ex.instrument_str, ex.family_str, ex.pitch, ex.velocity, ex.load_audio(n))
             for ex in examples)
    path = tmp_path_factory.mktemp("render_lib") / "lib.safetensors"
    build_library(model, notes).save(path)
    return path


@pytest.fixture(scope="module")
def library(library_path, model):
    return Library.load(library_path, model)


@pytest.fixture
def renderer(model, library):
    r = Renderer(model, library, out_rate=48000, phase="fast", cache_mb=64, prerender_all=False)
    yield r
    r.close()


def source(library, family):
    return next(n for n, f in zip(library.names, library.families) if f == family)


def test_rendered_note_follows_the_contract(renderer, library):
    note = renderer.render_note(Morph((library.names[0],), (1.0,)), 60, 100)
    assert isinstance(note, RenderedNote)
    assert note.audio.dtype == np.float32 and note.audio.shape == (4 * 48000,)
    assert note.sample_rate == 48000 and note.hold_end == 3 * 48000
    assert 48000 // 2 < note.loop_start < note.loop_end <= note.hold_end
    assert np.isfinite(note.audio).all() and np.abs(note.audio).max() > 1e-3


def test_loop_of_a_rendered_note_joins_seamlessly(renderer, library):
    name = source(library, "reed") if "reed" in library.families else library.names[0]
    note = renderer.render_note(Morph((name,), (1.0,)), 64, 100)
    period = 48000 / (440 * 2 ** ((64 - 69) / 12))
    a, s, e = note.audio, note.loop_start, note.loop_end
    assert loop_seam_correlation(a, s, e, int(period) // 4) > 0.95
    # The wrap (e-1 → s) steps no more than the waveform does from one sample to the next.
    typical_step = np.abs(np.diff(a[s:e])).mean()
    assert abs(a[e - 1] - a[s - 1]) < typical_step and abs(a[e] - a[s]) < typical_step


def test_find_loop_picks_a_seamless_whole_number_of_periods():
    sr, f0 = 48000, 97.3
    t = np.arange(4 * sr) / sr
    tone = sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, 6)) * np.exp(-t / 4)
    start, end = find_loop(tone, sr, f0 * 1.004, 3 * sr)  # slightly wrong pitch: the search corrects it
    assert end <= 3 * sr and start < end
    periods = (end - start) * f0 / sr
    assert abs(periods - round(periods)) < 0.02
    assert loop_seam_correlation(tone, start, end, int(sr / f0)) > 0.999


def test_static_and_one_hot_n_way_morphs_decode_to_the_source(renderer, library):
    a, b, c = library.names[:3]
    alone = renderer.render_magnitudes([(Morph((a,), (1.0,)), 60, 100)])
    one_hot = renderer.render_magnitudes([(Morph((b, a, c), (0.0, 5.0, 0.0)), 60, 100)])
    assert torch.allclose(alone, one_hot, atol=1e-5)


def test_xy_corner_renders_the_corner_source(renderer, library):
    names = tuple(library.names[:4])
    corner = renderer.render_magnitudes([(Morph(names, xy_weights(1.0, 0.0)), 55, 100)])
    alone = renderer.render_magnitudes([(Morph((names[1],), (1.0,)), 55, 100)])
    assert torch.allclose(corner, alone, atol=1e-5)
    centre = renderer.render_magnitudes([(Morph(names, xy_weights(0.5, 0.5)), 55, 100)])
    assert not torch.allclose(centre, alone, atol=1e-3)


def test_ramp_first_and_last_frames_equal_the_endpoint_decodes(renderer, library):
    a, b = library.names[:2]
    ramp = Morph((a, b), (1.0, 0.0), ramp=((0.5, (1.0, 0.0)), (3.0, (0.0, 1.0))))
    mags = renderer.render_magnitudes([(ramp, 60, 100),
                                       (Morph((a,), (1.0,)), 60, 100),
                                       (Morph((b,), (1.0,)), 60, 100)])
    ramped, only_a, only_b = mags
    assert torch.allclose(ramped[:, :30], only_a[:, :30], atol=1e-5)  # frames before 0.5 s
    assert torch.allclose(ramped[:, -10:], only_b[:, -10:], atol=1e-5)  # frames after 3 s
    mid = ramped[:, 110]  # 1.76 s, about half way
    assert torch.allclose(mid, 0.5 * (only_a[:, 110] + only_b[:, 110]), rtol=0.05, atol=1e-4)


def test_knobs_offset_the_latent_along_principal_axes(renderer, library):
    a = library.names[0]
    base = Morph((a,), (1.0,))
    z0 = renderer.latents(base, 60, 100)
    z1 = renderer.latents(Morph((a,), (1.0,), knobs=(0.0, 1.5)), 60, 100)
    assert torch.allclose(z1 - z0, 1.5 * library.pca_std[1] * library.pca_axes[1], atol=1e-5)
    quiet = renderer.render_magnitudes([(Morph((a,), (1.0,), knobs=(0.0,)), 60, 100)])
    assert torch.allclose(quiet, renderer.render_magnitudes([(base, 60, 100)]), atol=1e-6)


def test_slerp_endpoints_render_the_sources(renderer, library):
    a, b = library.names[:2]
    end = renderer.render_magnitudes([(Morph((a, b), (0.0, 1.0), "slerp"), 60, 100)])
    assert torch.allclose(end, renderer.render_magnitudes([(Morph((b,), (1.0,)), 60, 100)]), atol=1e-4)


def test_longer_duration_loops_the_hold_and_ends_with_the_release(renderer, library):
    note = renderer.render_note(Morph((library.names[0],), (1.0,)), 60, 100)
    long = fit_duration(note, 7.0)
    assert long.shape == (7 * 48000,)
    assert np.array_equal(long[:note.loop_end], note.audio[:note.loop_end])
    loop = note.audio[note.loop_start:note.loop_end]
    assert np.array_equal(long[note.loop_end:note.loop_end + loop.size], loop)
    tail = note.audio[note.loop_end:]
    reps = (7 * 48000 - note.audio.size) // loop.size
    at = note.loop_end + reps * loop.size
    assert np.array_equal(long[at:at + tail.size], tail)


def test_shorter_duration_cuts_with_a_fade_to_silence(renderer, library):
    audio = renderer.render(Morph((library.names[0],), (1.0,)), 60, 100, duration_s=1.5)
    assert audio.shape == (72000,)
    assert abs(audio[-1]) < 1e-6
    assert np.abs(audio[-100:]).max() < 0.05 * np.abs(audio).max()


def test_morph_change_prerenders_recent_keys_so_the_next_lookup_hits(model, library):
    a, b = library.names[:2]
    with Renderer(model, library, out_rate=44100, cache_mb=64, prerender_all=False) as r:
        r.set_morph(Morph((a,), (1.0,)))
        assert r.lookup(60, 100) is None
        assert r.lookup(67, 90) is None
        r.set_morph(Morph((a, b), (0.5, 0.5)))
        assert r.queue.wait_idle(60)
        note = r.lookup(60, 100)
        assert note is not None and note.sample_rate == 44100 and note.pitch == 60
        assert r.lookup(67, 90) is not None
        assert r.lookup(50, 100) is None  # never played: not pre-rendered
        s = r.stats()
        assert (s["hits"], s["misses"], s["queue_length"]) == (2, 3, 0)
        assert s["cache_bytes"] == 2 * note.audio.nbytes


def test_prerender_all_covers_every_key_nearest_first(model, library):
    with Renderer(model, library, cache_mb=256, prerender_all=True, batch_size=8) as r:
        r.set_morph(Morph((library.names[0],), (1.0,)))
        assert r.queue.wait_idle(120)
        assert all(r.lookup(p, 100) is not None for p in range(21, 109))


def test_request_renders_a_miss_on_the_worker_and_calls_back(renderer, library):
    renderer.set_morph(Morph((library.names[1],), (1.0,)))
    got = []
    done = threading.Event()
    renderer.request(62, 100, lambda note: (got.append((note, threading.current_thread().name)), done.set()))
    assert done.wait(30)
    note, thread = got[0]
    assert note.pitch == 62 and thread == "morphsynth-render"
    assert renderer.lookup(62, 100) is note


def test_renderer_refuses_bad_keys_and_unknown_sources(renderer):
    with pytest.raises(MorphsynthError, match="no morph set"):
        renderer.lookup(60, 100)
    renderer.set_morph(Morph((renderer.library.names[0],), (1.0,)))
    with pytest.raises(MorphsynthError, match="pitch"):
        renderer.lookup(20, 100)
    with pytest.raises(MorphsynthError, match="velocity"):
        renderer.request(60, 0, lambda n: None)
    with pytest.raises(MorphsynthError, match="unknown source 'nothing'"):
        renderer.set_morph(Morph(("nothing",), (1.0,)))


def test_renderer_refuses_a_library_of_another_model(model, library):
    other = Library(library.latents, library.pitches, library.velocities, library.source_index,
                    list(library.names), list(library.families), "0" * 64)
    with pytest.raises(MorphsynthError, match="library was built by model 000000000000"):
        Renderer(model, other)


# ------------------------------------------------------------------- command line
def test_render_cli_writes_a_note_at_the_conditioned_pitch(model_dir, library_path, library, tmp_path, capsys):
    name = source(library, "reed") if "reed" in library.families else library.names[0]
    out = tmp_path / "note.wav"
    assert main(["render", "--model", str(model_dir), "--library", str(library_path), "--source", name,
                 "--pitch", "64", "--velocity", "100", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    audio, rate = sf.read(out, dtype="float32")
    assert rate == 48000 and audio.shape == (4 * 48000,)
    f0 = autocorrelation_f0(audio, rate, start_s=0.3, dur_s=1.0)
    assert abs(cents_off(f0, 64)) < 60, f0


def test_render_cli_mixes_sources_at_another_rate_and_duration(model_dir, library_path, library, tmp_path):
    a, b = library.names[:2]
    out = tmp_path / "mix.wav"
    assert main(["render", "--model", str(model_dir), "--library", str(library_path), "--source", a,
                 "--source", f"{b}:0.5", "--slerp", "--pitch", "57", "--rate", "44100", "--duration", "6",
                 "--knob", "pc1=0.5", "--normalize", "--out", str(out)]) == 0
    audio, rate = sf.read(out, dtype="float32")
    assert rate == 44100 and audio.shape == (6 * 44100,)
    assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), abs=1e-3)


@pytest.mark.parametrize("argv, message", [
    (["--source", "nosuch"], "unknown source 'nosuch'"),
    (["--source", "A", "--pitch", "20"], "--pitch 20"),
    (["--source", "A", "--pitch", "109"], "--pitch 109"),
    (["--source", "A:0", "--source", "B:0"], "weights are all zero"),
    (["--source", "A:x"], "weight 'x' is not a number"),
    (["--source", "A", "--out", "/nonexistent/dir/x.wav"], "does not exist"),
    (["--source", "A", "--out", "TMPDIR"], "is a folder"),
    (["--source", "A", "--source", "B", "--xy", "0.5", "0.5"], "needs exactly 4"),
    (["--source", "A", "--source", "B", "--source", "C", "--slerp"], "--slerp: needs exactly 2"),
    (["--source", "A", "--source", "B", "--ramp", "0:1"], "needs 2 weight(s)"),
    (["--source", "A:1", "--source", "B", "--ramp", "0:1,0"], "give --source without :WEIGHT"),
    (["--source", "A", "--knob", "bright=1"], "expected pcN=SD"),
    (["--source", "A", "--knob", "pc99=1"], "knobs given"),
    (["--source", "A", "--velocity", "0"], "--velocity 0"),
    (["--source", "A", "--rate", "12345"], "--rate 12345"),
    (["--source", "A", "--phase", "magic"], "magic"),
    (["--source", "A", "--duration", "-1"], "--duration -1"),
    (["--source", "A", "--model", "MISSING"], "model folder not found"),
])
def test_render_cli_errors_are_one_line(model_dir, library_path, library, tmp_path, capsys, argv, message):
    subs = {"A": library.names[0], "B": library.names[1], "C": library.names[2], "A:0": f"{library.names[0]}:0",
            "A:1": f"{library.names[0]}:1",
            "B:0": f"{library.names[1]}:0", "A:x": f"{library.names[0]}:x", "TMPDIR": str(tmp_path),
            "MISSING": str(tmp_path / "missing")}
    argv = [subs.get(a, a) for a in argv]
    base = ["render", "--model", str(model_dir), "--library", str(library_path), "--pitch", "60",
            "--out", str(tmp_path / "x.wav")]
    rc = main(base + argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert message in err and err.count("\n") == 1 and err.startswith("morphsynth: error: ")


def test_add_source_makes_a_users_note_playable_and_replacing_it_renders_anew(model, library_path, tmp_path):
    from morphsynth.training.soundfont import FLUID_R3, render_note

    lib = Library.load(library_path, model)
    with Renderer(model, lib, cache_mb=64, prerender_all=False) as r:
        wav = tmp_path / "organ.wav"
        sf.write(wav, render_note(FLUID_R3, 19, 60, 100, sample_rate=22050), 22050)
        r.add_source(str(wav), "myorgan")
        assert "myorgan" in lib.names and lib.describe()[-1]["pitches"] == [60]
        first = r.render_note(Morph(("myorgan",), (1.0,)), 60, 100)
        sf.write(wav, render_note(FLUID_R3, 73, 60, 100, sample_rate=22050), 22050)
        r.add_source(str(wav), "myorgan", pitch=60)
        second = r.render_note(Morph(("myorgan",), (1.0,)), 60, 100)
        assert second is not first and not np.array_equal(second.audio, first.audio)


def test_level_loop_evens_a_decaying_loop_and_keeps_the_release_continuous():
    from morphsynth.server.renderer import level_loop

    sr, f0 = 48000, 110.0
    t = np.arange(4 * sr) / sr
    tone = (np.sin(2 * np.pi * f0 * t) * np.exp(-t / 0.5)).astype(np.float32)
    start, end = find_loop(tone, sr, f0, 3 * sr)
    w = int(2 * sr / f0)
    before = tone.copy()
    level_loop(tone, start, end, w)

    def rms(x):
        return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))

    assert rms(before[end - w:end]) < 0.6 * rms(before[start:start + w])  # decays over the loop...
    assert rms(tone[end - w:end]) == pytest.approx(rms(tone[start:start + w]), rel=0.1)  # ...not after levelling
    gain = tone[end + 10] / before[end + 10]
    assert tone[-1000] / before[-1000] == pytest.approx(gain, rel=1e-4)  # the release keeps the end gain
    assert np.array_equal(tone[:start], before[:start])
