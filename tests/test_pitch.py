"""CREPE and autocorrelation pitch on real FluidSynth notes."""

import numpy as np
import pytest
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.training import pitch_accuracy as pitch
from morphsynth.core.pitch import cents_off

# piano A2, flute E5, trumpet C4: low, high and middle of the model's range
NOTES = [(0, 45), (73, 76), (56, 60)]


@pytest.fixture(scope="module")
def notes(fluid_notes):
    """``[3, 64000]`` float32 at 16 kHz and their MIDI pitches."""
    return fluid_notes(NOTES), [midi for _, midi in NOTES]


def test_crepe_f0_of_rendered_notes_is_within_50_cents_of_their_pitch(notes):
    audio, midis = notes
    f0 = pitch.crepe_f0(torch.from_numpy(audio), 16000)
    assert f0.shape == (3,)
    for hz, midi in zip(f0.tolist(), midis):
        assert abs(cents_off(hz, midi)) < 50, (hz, midi)


def test_crepe_f0_resamples_other_rates_and_takes_a_single_note(notes):
    import soxr

    audio, midis = notes
    at_44k = soxr.resample(audio[2], 16000, 44100)
    f0 = pitch.crepe_f0(at_44k, 44100)
    assert f0.dim() == 0
    assert abs(cents_off(float(f0), midis[2])) < 50


def test_pitch_hits_mark_each_note_and_only_the_mislabelled_one_misses(notes):
    audio, midis = notes
    hits = pitch.pitch_hits(audio, [midis[0], midis[1] + 1, midis[2]], 16000, method="autocorrelation")
    assert hits.dtype == bool and hits.tolist() == [True, False, True]


def test_pitch_accuracy_counts_a_semitone_off_label_as_a_miss(notes):
    audio, midis = notes
    assert pitch.pitch_accuracy(audio, [midis[0], midis[1], midis[2] + 1], 16000) == pytest.approx(2 / 3)


def test_autocorrelation_accuracy_is_one_for_true_labels_and_zero_for_shifted_ones(notes):
    audio, midis = notes
    assert pitch.pitch_accuracy(audio, midis, 16000, method="autocorrelation") == 1.0
    assert pitch.pitch_accuracy(audio, [m - 1 for m in midis], 16000, method="autocorrelation") == 0.0
    # A whole tone off misses even a 150-cent window; a semitone off fits in it.
    assert pitch.pitch_accuracy(audio, [m + 2 for m in midis], 16000, cents=150, method="autocorrelation") == 0.0
    assert pitch.pitch_accuracy(audio, [m + 1 for m in midis], 16000, cents=150, method="autocorrelation") == 1.0


def test_bad_arguments_raise_errors_naming_the_culprit(notes):
    audio, midis = notes
    with pytest.raises(MorphsynthError, match="fmin: 20"):
        pitch.crepe_f0(audio, 16000, fmin=20.0)
    with pytest.raises(MorphsynthError, match="pitches: 2 pitches for 3 notes"):
        pitch.pitch_accuracy(audio, midis[:2], 16000)
    with pytest.raises(MorphsynthError, match="method: unknown pitch method 'yin'"):
        pitch.pitch_accuracy(audio, midis, 16000, method="yin")
    with pytest.raises(MorphsynthError, match="audio: expected"):
        pitch.crepe_f0(np.zeros((1, 2, 100), dtype=np.float32), 16000)
