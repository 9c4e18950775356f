import os

import pytest
import torch

# Tests share two cores with whatever else runs: one torch thread is fastest and steadiest.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def jack_server():
    """A private JACK dummy server (48 kHz, 256 frames) for the whole session."""
    from audio_graph import JackServer

    if not JackServer.available():
        pytest.skip("jackd is not installed (bash scripts/setup.sh installs jackd2)")
    server = JackServer().start()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    yield server
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A tiny NSynth-layout dataset rendered from FluidR3_GM; returns its root Path.

    10 GM programs from 10 families x pitches 48, 56, 64, 72 x velocity 100 = 40 notes;
    8 instruments in nsynth-train, 1 in nsynth-valid, 1 in nsynth-test (seed 0).
    """
    from morphsynth.training.dataset_soundfont import build_soundfont_dataset
    from morphsynth.training.soundfont import FLUID_R3

    if not FLUID_R3.is_file():
        pytest.skip(f"{FLUID_R3} is missing (bash scripts/setup.sh installs fluid-soundfont-gm)")
    root = tmp_path_factory.mktemp("tiny_dataset")
    build_soundfont_dataset([FLUID_R3], root, programs=[0, 11, 20, 24, 33, 40, 56, 65, 73, 81],
                            pitches=(48, 72), pitch_step=8, velocities=[100], seed=0)
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_dataset, tmp_path_factory):
    """A model folder from a tiny CAE (configs/tiny.yaml) trained two epochs on `tiny_dataset`.

    Loads with ``load_synth_model``; being a run folder it also holds ``checkpoint/`` and
    ``baselines/pca`` and ``baselines/shallow_ae`` (model folders). Fast, not a good model.
    """
    from pathlib import Path

    from morphsynth.core.config import load_config
    from morphsynth.training.nsynth import NSynthDataset
    from morphsynth.training.train import notes_from_dataset, train_run
    from morphsynth.training.train_config import TrainConfig

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml", TrainConfig)
    out = tmp_path_factory.mktemp("tiny_model")
    train_notes = notes_from_dataset(NSynthDataset(tiny_dataset, "train"))
    valid_notes = notes_from_dataset(NSynthDataset(tiny_dataset, "valid"))
    train_run(config, train_notes, valid_notes, out, torch.device("cpu"), log=lambda msg: None, progress_bar=False)
    return out


@pytest.fixture(scope="session")
def tiny_parts(tiny_model_dir, tiny_dataset, tmp_path_factory):
    """``(model_dir, library)``: the trained tiny model (``tiny_model_dir``) and its latent
    library built from ``tiny_dataset``, once for the session."""
    from test_audio_support import library_for

    lib = library_for(tiny_model_dir, tiny_dataset, tmp_path_factory.mktemp("tiny_library") / "lib.safetensors")
    return tiny_model_dir, lib


@pytest.fixture(scope="session")
def fuzz_parts(tmp_path_factory):
    """``(model_dir, library)``: the seeded untrained small CAE and its library of 8 FluidSynth
    notes (``fuzz_corpus.build_fuzz_parts``), once for the session. Tests copy what they change."""
    from fuzz_corpus import build_fuzz_parts

    return build_fuzz_parts(tmp_path_factory.mktemp("fuzz_parts"))


@pytest.fixture
def fuzz_server(fuzz_parts, tmp_path):
    """A real SynthServer over ``fuzz_parts``, not started (no sockets, no clock), null audio,
    no MIDI port, its input and output folders under ``tmp_path``; stopped after the test."""
    from fuzz_corpus import build_fuzz_server

    server = build_fuzz_server(*fuzz_parts, tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def organ_notes():
    """FluidSynth notes of GM program 19 (church organ: steady, so pitch is easy to read) served
    through the Renderer contract (``test_audio_support.SoundFontNotes``), keys 57, 60 and 64
    at velocity 100 rendered already. One per module: its hit counts and morph are the module's."""
    from test_audio_support import SoundFontNotes

    notes = SoundFontNotes(program=19)
    for pitch in (57, 60, 64):
        notes.note(pitch, 100)
    yield notes
    notes.close()


@pytest.fixture(scope="session")
def fluid_notes():
    """``render([(program, pitch), ...]) -> [n, 64000]`` float32: dry FluidR3_GM notes at
    16 kHz and velocity 100 (true phase); skips where FluidR3_GM is not installed."""
    import numpy as np

    from morphsynth.training.soundfont import FLUID_R3, SoundFontSynth

    if not FLUID_R3.is_file():
        pytest.skip(f"{FLUID_R3} is not installed")

    def render(notes):
        with SoundFontSynth(FLUID_R3) as synth:
            return np.stack([synth.render(program, pitch, 100) for program, pitch in notes])

    return render
