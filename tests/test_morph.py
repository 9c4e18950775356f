"""Morph maths: lerp/slerp, N-way weights, XY pad, ramps, validation."""

import math

import pytest
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.morph import (Morph, lerp, mix_latents, quantise_weights, ramp_frame_blend,
                                     ramp_weights_at, slerp, xy_morph, xy_weights)


@pytest.fixture
def latents():
    g = torch.Generator().manual_seed(1)
    return torch.randn(4, 16, generator=g)


def test_lerp_and_slerp_endpoints_equal_the_sources(latents):
    a, b = latents[0], latents[1]
    centre = latents.mean(dim=0)
    for fn in (lambda t: lerp(a, b, t), lambda t: slerp(a, b, t), lambda t: slerp(a, b, t, centre)):
        assert torch.allclose(fn(0.0), a, atol=1e-5)
        assert torch.allclose(fn(1.0), b, atol=1e-5)


def test_slerp_is_continuous_in_alpha(latents):
    a, b = latents[0], latents[1]
    alphas = torch.linspace(0, 1, 201)
    path = torch.stack([slerp(a, b, float(t)) for t in alphas])
    steps = (path[1:] - path[:-1]).norm(dim=1)
    # Uniform speed along the arc: no step is much bigger than the mean one.
    assert steps.max() < 2.0 * steps.mean()
    assert steps.max() < (a - b).norm() / 50


def test_slerp_keeps_norm_between_equal_norm_sources(latents):
    a = latents[0] / latents[0].norm() * 3.0
    b = latents[1] / latents[1].norm() * 3.0
    mid_slerp = slerp(a, b, 0.5)
    mid_lerp = lerp(a, b, 0.5)
    assert math.isclose(float(mid_slerp.norm()), 3.0, rel_tol=1e-4)
    assert float(mid_lerp.norm()) < 3.0 - 1e-3


def test_slerp_of_parallel_latents_falls_back_to_lerp(latents):
    a = latents[0]
    out = slerp(a, 2 * a, 0.5)
    assert torch.allclose(out, 1.5 * a, atol=1e-5)


def test_n_way_weights_are_normalised(latents):
    scaled = mix_latents(latents, (2.0, 2.0, 4.0, 0.0))
    unit = mix_latents(latents, (0.25, 0.25, 0.5, 0.0))
    assert torch.allclose(scaled, unit, atol=1e-6)
    expected = 0.25 * latents[0] + 0.25 * latents[1] + 0.5 * latents[2]
    assert torch.allclose(unit, expected, atol=1e-6)


def test_n_way_with_one_weight_one_equals_that_source(latents):
    for i in range(4):
        w = [0.0] * 4
        w[i] = 1.0
        assert torch.allclose(mix_latents(latents, w), latents[i], atol=1e-6)


def test_xy_corners_select_one_source_and_centre_averages_all(latents):
    corners = {(0, 0): 0, (1, 0): 1, (0, 1): 2, (1, 1): 3}
    for (x, y), i in corners.items():
        w = xy_weights(x, y)
        assert w[i] == pytest.approx(1.0) and sum(w) == pytest.approx(1.0)
        assert torch.allclose(mix_latents(latents, w), latents[i], atol=1e-6)
    assert xy_weights(0.5, 0.5) == pytest.approx((0.25, 0.25, 0.25, 0.25))
    assert torch.allclose(mix_latents(latents, xy_weights(0.5, 0.5)), latents.mean(dim=0), atol=1e-6)


def test_xy_weights_are_continuous_without_snapping():
    a = xy_weights(0.3, 0.7)
    b = xy_weights(0.3001, 0.7)
    assert a != b
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-3
    assert xy_weights(0.3, 0.7) == pytest.approx((0.7 * 0.3, 0.3 * 0.3, 0.7 * 0.7, 0.3 * 0.7))


def test_xy_morph_uses_the_first_four_sources():
    m = xy_morph(["a", "b", "c", "d", "e"], 1.0, 0.0)
    assert m.weights == pytest.approx((0, 1, 0, 0, 0))
    with pytest.raises(MorphsynthError, match="4 sources"):
        xy_morph(["a", "b"], 0.5, 0.5)


def test_ramp_weights_interpolate_between_breakpoints():
    ramp = ((0.5, (1.0, 0.0)), (2.5, (0.0, 2.0)))
    assert ramp_weights_at(ramp, 0.0) == pytest.approx((1.0, 0.0))
    assert ramp_weights_at(ramp, 1.5) == pytest.approx((0.5, 0.5))
    assert ramp_weights_at(ramp, 9.0) == pytest.approx((0.0, 1.0))


def test_ramp_frame_blend_holds_endpoints_and_sums_to_one():
    blend = ramp_frame_blend([0.5, 2.0, 3.0], 251, 256 / 16000)
    assert blend.shape == (3, 251)
    assert torch.allclose(blend.sum(dim=0), torch.ones(251))
    assert blend[0, 0] == 1.0 and blend[2, -1] == 1.0
    t = torch.arange(251) * 256 / 16000
    mid = int(torch.argmin((t - 1.25).abs()))
    assert blend[0, mid] == pytest.approx(0.5, abs=0.02) and blend[1, mid] == pytest.approx(0.5, abs=0.02)


def test_cache_key_ignores_weight_scale_and_sub_step_changes():
    a = Morph(("x", "y"), (1.0, 1.0))
    b = Morph(("x", "y"), (3.0, 3.0))
    c = Morph(("x", "y"), (0.5, 0.5 + 1e-5))
    d = Morph(("x", "y"), (0.5, 0.6))
    assert a.cache_key() == b.cache_key() == c.cache_key()
    assert a.cache_key() != d.cache_key()
    assert quantise_weights((1, 3)) == (0.25, 0.75)


@pytest.mark.parametrize("morph, message", [
    (Morph((), ()), "at least one source"),
    (Morph(("a", "b"), (0.0, 0.0)), "all zero"),
    (Morph(("a", "b"), (1.0,)), "need 2 weight"),
    (Morph(("a",), (-1.0,)), ">= 0"),
    (Morph(("a",), (float("nan"),)), "finite"),
    (Morph(("a", "b", "c"), (1.0, 1.0, 1.0), "slerp"), "exactly 2"),
    (Morph(("a",), (1.0,), "cubic"), "interp"),
    (Morph(("a",), (1.0,), knobs=(float("inf"),)), "knob 1"),
    (Morph(("a", "b"), (1.0, 0.0), ramp=((1.0, (1.0, 0.0)), (0.5, (0.0, 1.0)))), "must not decrease"),
    (Morph(("a", "b"), (1.0, 0.0), ramp=((0.0, (1.0,)),)), "ramp point 0"),
])
def test_validate_rejects_bad_morphs_with_one_line(morph, message):
    with pytest.raises(MorphsynthError, match=message) as err:
        morph.validate()
    assert "\n" not in str(err.value)
