"""Phase reconstruction on real FluidSynth notes, checked against their true-phase audio."""

import math

import pytest
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.core import phase, spectral
from morphsynth.core.spectral import log_spectral_distance
from morphsynth.training.metrics import spectral_convergence

# piano C4, flute C5, cello C3, trumpet G4
NOTES = [(0, 60), (73, 72), (42, 48), (56, 67)]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def audio(fluid_notes):
    """``[4, 64000]`` true-phase audio of four dry FluidR3_GM notes."""
    return torch.from_numpy(fluid_notes(NOTES))


@pytest.fixture(scope="module")
def mag(audio):
    return spectral.magnitude(audio)


def synthetic_note(n: int = 16000, sr: int = 16000) -> torch.Tensor:
    """A decaying harmonic tone, for tests that must run where FluidSynth is absent."""
    t = torch.arange(n, dtype=torch.float64) / sr
    x = sum(torch.sin(2 * math.pi * 330 * k * t + k) / k for k in range(1, 6)) * torch.exp(-2 * t)
    return (0.5 * x / x.abs().max()).float()


def sc_of(mag: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
    return spectral_convergence(mag, spectral.magnitude(audio))


def test_true_phase_without_iterations_returns_the_original_audio(audio, mag):
    true_phase = torch.angle(spectral.stft(audio))
    out = phase.griffin_lim(mag, n_iter=0, phase=true_phase)
    assert out.shape == audio.shape
    assert torch.max(torch.abs(out - audio)) < 1e-5


@pytest.mark.parametrize("n_fft, hop", [(512, 128), (1024, 300)])
def test_true_phase_round_trip_holds_for_other_stft_settings(n_fft, hop):
    x = synthetic_note()
    spec = spectral.stft(x, n_fft, hop).unsqueeze(0)
    out = phase.griffin_lim(spec.abs(), n_iter=0, phase=torch.angle(spec), n_fft=n_fft, hop=hop)
    assert torch.allclose(out, spectral.istft(spec, n_fft, hop), atol=1e-5)


def test_random_phase_is_far_from_the_true_magnitude(mag):
    out = phase.reconstruct(mag, "griffinlim", n_iter=0)
    assert torch.all(sc_of(mag, out) > 0.5)


def test_griffin_lim_converges_with_more_iterations(mag):
    few, many = (sc_of(mag, phase.reconstruct(mag, "griffinlim", n_iter=k)).mean() for k in (4, 32))
    assert many < 0.5 * few
    assert many < 0.09


def test_pghi_one_pass_is_close_to_the_true_magnitude(mag):
    sc = sc_of(mag, phase.reconstruct(mag, "pghi"))
    assert sc.mean() < 0.04
    assert sc.max() < 0.07
    assert log_spectral_distance(mag, spectral.magnitude(phase.reconstruct(mag, "pghi"))).mean() < 3.0


def test_heap_pghi_is_close_to_the_true_magnitude(mag):
    sc = sc_of(mag, phase.reconstruct(mag, "pghi_heap"))
    assert sc.mean() < 0.04
    assert sc.max() < 0.07


def test_fast_mode_beats_32_griffin_lim_iterations(mag):
    fast = sc_of(mag, phase.reconstruct(mag, "fast")).mean()
    gl32 = sc_of(mag, phase.reconstruct(mag, "griffinlim", n_iter=32)).mean()
    assert fast <= 0.07
    assert fast < gl32


def test_quality_mode_reaches_spectral_convergence_below_002(mag):
    sc = sc_of(mag, phase.reconstruct(mag, "quality"))
    assert sc.mean() <= 0.02
    assert sc_of(mag, phase.reconstruct(mag, "fast")).mean() > sc.mean()


def test_pghi_time_derivative_matches_a_sinusoid_frequency():
    sr, f, hop = 16000, 1003.0, 256
    t = torch.arange(32000, dtype=torch.float64) / sr
    mag = spectral.magnitude(torch.sin(2 * math.pi * f * t), 1024, hop).unsqueeze(0)
    dphase_dframe, dphase_dbin = phase.phase_gradients(mag, 1024, hop)
    peak_bin = int(mag[0, :, 60].argmax())
    advance = 2 * math.pi * f * hop / sr
    error = torch.remainder(dphase_dframe[0, peak_bin, 10:-10] - advance + math.pi, 2 * math.pi) - math.pi
    assert error.abs().max() < 0.05
    # Steady amplitude: the frequency derivative is the frame-start reference's π per bin.
    assert torch.allclose(dphase_dbin[0, peak_bin - 2: peak_bin + 3, 10:-10], torch.tensor(math.pi, dtype=torch.float64))


def test_batched_griffin_lim_equals_per_note_griffin_lim(mag):
    start = phase.random_phase(tuple(mag.shape), seed=3)
    together = phase.griffin_lim(mag, n_iter=8, phase=start)
    for i in range(mag.shape[0]):
        alone = phase.griffin_lim(mag[i: i + 1], n_iter=8, phase=start[i: i + 1])
        assert torch.allclose(together[i], alone[0], atol=1e-5)


@pytest.mark.parametrize("method", ["griffinlim", "pghi", "quality"])
def test_batch_size_does_not_change_the_result(mag, method):
    one_by_one = phase.reconstruct(mag[:3], method, n_iter=4, batch_size=1)
    all_at_once = phase.reconstruct(mag[:3], method, n_iter=4, batch_size=3)
    assert torch.allclose(one_by_one, all_at_once, atol=1e-5)


def test_single_note_input_gives_single_note_output(mag):
    out = phase.reconstruct(mag[0], "fast")
    assert out.shape == (64000,)
    assert torch.allclose(out, phase.reconstruct(mag[:1], "fast")[0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["griffinlim", "pghi", "pghi_heap"])
def test_reconstruction_runs_on_the_device_of_its_input(device, method):
    mag = spectral.magnitude(synthetic_note()).unsqueeze(0).to(device)
    out = phase.reconstruct(mag, method, n_iter=8)
    assert out.device.type == device
    assert out.dtype == torch.float32
    assert out.shape == (1, (mag.shape[-1] - 1) * 256)
    assert sc_of(mag, out).item() < 0.3  # random phase scores about 0.65


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", ["griffinlim", "pghi"])
def test_cuda_reconstruction_matches_cpu(method):
    mag = spectral.magnitude(torch.stack([synthetic_note(), 0.5 * synthetic_note().flip(0)]))
    cpu = phase.reconstruct(mag, method, n_iter=8)
    gpu = phase.reconstruct(mag.cuda(), method, n_iter=8).cpu()
    sc_cpu, sc_gpu = sc_of(mag, cpu), sc_of(mag, gpu)
    assert torch.allclose(sc_cpu, sc_gpu, atol=2e-3)


def test_float64_input_gives_float64_audio():
    mag = spectral.magnitude(synthetic_note().double()).unsqueeze(0)
    out = phase.reconstruct(mag, "quality")
    assert out.dtype == torch.float64
    assert sc_of(mag, out).item() < 0.05


@pytest.mark.parametrize("method", ["griffinlim", "pghi", "pghi_heap"])
def test_silence_reconstructs_to_silence(method):
    out = phase.reconstruct(torch.zeros(2, 513, 20), method, n_iter=4)
    assert torch.all(torch.isfinite(out))
    assert torch.all(out == 0)


def test_bad_arguments_raise_errors_naming_the_culprit():
    with pytest.raises(MorphsynthError, match="mag: 257 bins"):
        phase.reconstruct(torch.ones(1, 257, 10))
    with pytest.raises(MorphsynthError, match="method: unknown phase method 'spline'"):
        phase.reconstruct(torch.ones(1, 513, 10), "spline")
    with pytest.raises(MorphsynthError, match="n_iter"):
        phase.reconstruct(torch.ones(1, 513, 10), "griffinlim", n_iter=-1)
    with pytest.raises(MorphsynthError, match="phase: shape"):
        phase.griffin_lim(torch.ones(1, 513, 10), phase=torch.zeros(1, 513, 9))
    with pytest.raises(MorphsynthError, match=r"mag: expected \[batch, n_bins, n_frames\]"):
        phase.reconstruct(torch.ones(2, 1, 513, 10))
