"""Spectral transforms and metrics against librosa, and metric sanity checks."""

import librosa
import numpy as np
import pytest
import torch

from morphsynth.core import pitch, spectral
from morphsynth.core import spectral as metrics_core
from morphsynth.training import metrics
from morphsynth.core.spectral import StftSettings


@pytest.fixture(scope="module")
def note():
    """A 4 s 16 kHz test signal: a decaying harmonic tone with a click and some noise."""
    sr = 16000
    t = np.arange(64000) / sr
    rng = np.random.default_rng(0)
    x = sum(np.sin(2 * np.pi * 220 * k * t + k) / k for k in range(1, 8)) * np.exp(-t)
    x[8000] += 1.0
    x += 0.01 * rng.standard_normal(t.size)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def test_stft_matches_librosa_with_zero_padding(note):
    ours = spectral.stft(torch.from_numpy(note)).numpy()
    ref = librosa.stft(note, n_fft=1024, hop_length=256, window="hann", center=True, pad_mode="constant")
    assert ours.shape == ref.shape == (513, 251)
    assert np.abs(ours - ref).max() <= 1e-4 * np.abs(ref).max()


def test_stft_of_a_batch_equals_stft_of_each_note(note):
    batch = torch.from_numpy(np.stack([note, note[::-1].copy(), 0.5 * note]))
    together = spectral.stft(batch)
    assert together.shape == (3, 513, 251)
    for i in range(3):
        assert torch.allclose(together[i], spectral.stft(batch[i]), atol=1e-5)


def test_istft_inverts_stft(note):
    x = torch.from_numpy(note)
    y = spectral.istft(spectral.stft(x))
    assert y.shape == (64000,)
    assert torch.max(torch.abs(y - x)) < 1e-5


def test_istft_matches_librosa_istft(note):
    spec = librosa.stft(note, n_fft=1024, hop_length=256, center=True, pad_mode="constant")
    ref = librosa.istft(spec, hop_length=256, n_fft=1024, center=True, length=64000)
    ours = spectral.istft(torch.from_numpy(spec), length=64000).numpy()
    assert np.abs(ours - ref).max() < 1e-5


def test_stft_settings_give_the_shapes_of_a_4s_note():
    settings = StftSettings()
    assert settings.n_bins == 513
    assert settings.n_frames(64000) == 251
    assert settings.n_samples(251) == 64000
    assert spectral.magnitude(torch.zeros(2, 64000)).shape == (2, 513, 251)


@pytest.mark.parametrize("kwargs", [{}, {"n_mels": 80, "fmin": 30.0, "fmax": 7600.0}])
def test_mel_filterbank_matches_librosa_filters_mel(kwargs):
    ours = spectral.mel_filterbank(16000, 1024, **kwargs).numpy()
    ref = librosa.filters.mel(sr=16000, n_fft=1024, **kwargs)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-6


def test_hz_mel_and_midi_conversions_match_librosa():
    hz = np.array([0.0, 55.0, 440.0, 999.0, 1000.0, 4000.0, 8000.0])
    assert np.allclose(spectral.hz_to_mel(torch.from_numpy(hz)).numpy(), librosa.hz_to_mel(hz), rtol=1e-9)
    mel = librosa.hz_to_mel(hz)
    assert np.allclose(spectral.mel_to_hz(torch.from_numpy(mel)).numpy(), hz, rtol=1e-9, atol=1e-9)
    midi = np.array([21.0, 60.0, 69.0, 108.0])
    assert np.allclose(pitch.midi_to_hz(torch.from_numpy(midi)).numpy(), librosa.midi_to_hz(midi))
    assert np.allclose(pitch.hz_to_midi(pitch.midi_to_hz(torch.from_numpy(midi))).numpy(), midi)


def test_amplitude_to_db_matches_librosa_with_peak_reference_and_80_db_floor(note):
    mag = np.abs(librosa.stft(note, n_fft=1024, hop_length=256, pad_mode="constant"))
    ref = librosa.amplitude_to_db(mag, ref=np.max, amin=1e-12, top_db=80.0)
    ours = spectral.amplitude_to_db(torch.from_numpy(mag)).numpy()
    assert ours.max() == pytest.approx(0.0, abs=1e-5)
    assert ours.min() == pytest.approx(-80.0)
    assert np.abs(ours - ref).max() < 1e-3


def test_db_to_amplitude_inverts_amplitude_to_db_above_the_floor():
    mag = torch.tensor([[1e-3, 0.1], [0.5, 2.0]])
    db = spectral.amplitude_to_db(mag, ref=1.0)
    assert torch.allclose(spectral.db_to_amplitude(db), mag, rtol=1e-5)


def test_log_magnitude_round_trip_is_exact_and_non_negative():
    mag = torch.tensor([0.0, 1e-6, 0.3, 7.0])
    back = spectral.log_to_magnitude(spectral.magnitude_to_log(mag))
    assert torch.all(back >= 0)
    assert torch.allclose(back, mag, atol=1e-6)


# ---------------------------------------------------------------------------
# metrics

@pytest.fixture(scope="module")
def mags(note):
    return spectral.magnitude(torch.from_numpy(np.stack([note, 0.3 * note[::-1].copy()])))


def test_spectral_convergence_of_identical_magnitudes_is_zero(mags):
    assert torch.all(metrics.spectral_convergence(mags, mags.clone()) == 0)


def test_spectral_convergence_of_a_scaled_copy_is_the_scale_error(mags):
    for scale in (0.0, 0.5, 2.0):
        sc = metrics.spectral_convergence(mags, scale * mags)
        assert torch.allclose(sc, torch.full_like(sc, abs(1 - scale)), atol=1e-6)
    # Normalised by the reference: scaling both leaves it unchanged.
    noisy = mags * (1 + 0.1 * torch.rand(mags.shape, generator=torch.Generator().manual_seed(0)))
    assert torch.allclose(metrics.spectral_convergence(mags, noisy),
                          metrics.spectral_convergence(7 * mags, 7 * noisy), rtol=1e-4)


def test_log_spectral_distance_of_identical_magnitudes_is_zero(mags):
    assert torch.all(metrics_core.log_spectral_distance(mags, mags.clone()) == 0)


def test_log_spectral_distance_of_a_tenfold_copy_is_20_db_above_the_floor():
    mag = 0.01 + torch.rand(1, 513, 20, generator=torch.Generator().manual_seed(1))  # all within 40 dB of the peak
    assert metrics_core.log_spectral_distance(mag, 10 * mag).item() == pytest.approx(20.0, abs=1e-3)
    # Both floored at -80 dB below the reference peak: differences below the floor do not count.
    ref = torch.full((1, 513, 20), 1e-6)
    ref[0, 10, 5] = 1.0
    est = ref * 0.1
    est[0, 10, 5] = 1.0
    assert metrics_core.log_spectral_distance(ref, est).item() == 0.0


def test_log_spectral_distance_ignores_a_common_gain(mags):
    est = mags * 1.5
    assert torch.allclose(metrics_core.log_spectral_distance(mags, est),
                          metrics_core.log_spectral_distance(0.01 * mags, 0.01 * est), atol=1e-4)


def test_cents_off_counts_semitones_as_100_cents():
    assert pitch.cents_off(440.0, 69) == pytest.approx(0.0)
    assert pitch.cents_off(440.0 * 2 ** (1 / 12), 69) == pytest.approx(100.0)
    assert pitch.cents_off(0.0, 69) == float("inf")
