import math

import pytest
import torch

from grokviz.analysis.neurons import (attention_from_equals, logit_weights_fourier, neuron_clusters,
                                      neuron_frequency_fraction, neuron_input_weights, neuron_spectral_filter)
from grokviz.analysis.spectrum import key_frequency_report
from grokviz.core.data import all_tokens
from tests.analysis.helpers import random_model, wave


def test_fraction_of_pure_neurons():
    p = 13
    a = torch.arange(p, dtype=torch.float64)[:, None]
    b = torch.arange(p, dtype=torch.float64)[None, :]
    w = 2 * math.pi / p
    post = torch.stack([
        torch.cos(w * 3 * (a + b)),
        torch.cos(w * 5 * a) + 0.5 * torch.sin(w * 5 * b) + 2.0,
        torch.cos(w * 2 * a) * torch.cos(w * 4 * b),
    ], dim=-1)
    fraction = neuron_frequency_fraction(post)
    assert fraction.names == ("freq", "neuron") and fraction.shape == (7, 3)
    assert math.isclose(float(fraction.data[3, 0]), 1.0, rel_tol=1e-6)
    assert math.isclose(float(fraction.data[5, 1]), 1.0, rel_tol=1e-6)
    assert float(fraction.data[:, 2].max()) < 0.85  # mixes two frequencies
    assert float(fraction.data[0].abs().max()) == 0.0
    assert neuron_clusters(fraction) == {3: [0], 5: [1]}


def test_spectral_filter_of_hand_built_embedding():
    p, k = 13, 4
    model = random_model(p, d_model=8, d_mlp=6)
    with torch.no_grad():
        model.embed.W_E.zero_()
        model.embed.W_E[:p, 0] = wave(p, k, 0.7).float() * 3.0
        model.pos_embed.W_pos.zero_()
    weights = neuron_input_weights(model)
    assert weights.names == ("pos", "head", "token", "neuron")
    attn, mlp = model.blocks[0].attn, model.blocks[0].mlp
    expected = model.embed.W_E[:p] @ attn.W_V[1] @ attn.W_O[1] @ mlp.W_in
    assert torch.allclose(weights.data[0, 1], expected, atol=1e-5)
    filt = neuron_spectral_filter(model)
    gain = (model.embed.W_E[:p].new_tensor([1.0] + [0.0] * 7) @ torch.einsum("hde,hem,mn->dn", attn.W_V, attn.W_O, mlp.W_in)).abs()
    assert filt.magnitude.names == ("pos", "neuron", "freq")
    assert torch.allclose(filt.magnitude.data[0, :, k], 3.0 * gain, rtol=1e-4, atol=1e-5)
    others = [i for i in range(p // 2 + 1) if i != k]
    assert float(filt.magnitude.data[:, :, others].abs().max()) < 1e-4
    signs = torch.sign(torch.einsum("hde,hem,mn->dn", attn.W_V, attn.W_O, mlp.W_in)[0])
    phase = filt.phase.data[0, :, k]
    for n in range(6):
        expected_phase = 0.7 if signs[n] > 0 else 0.7 - math.pi
        assert abs(math.remainder(float(phase[n]) - expected_phase, 2 * math.pi)) < 1e-4
    per_head = neuron_spectral_filter(model, per_head=True)
    assert per_head.magnitude.names == ("pos", "head", "neuron", "freq")


def test_logit_weights_and_attention():
    p = 11
    model = random_model(p)
    w = logit_weights_fourier(model)
    assert w.names == ("neuron", "c") and w.axis("c").kind == "frequency"
    assert math.isclose(float(w.data.square().sum()),
                        float((model.blocks[0].mlp.W_out @ model.unembed.W_U).detach().square().sum()), rel_tol=1e-4)
    pattern = attention_from_equals(model)
    assert pattern.names == ("head", "key_pos", "a", "b")
    _, cache = model.run_with_cache(all_tokens(p))
    expected = cache["blocks.0.attn.hook_pattern"][:, :, 2, :].reshape(p, p, 2, 3).permute(2, 3, 0, 1)
    assert torch.allclose(pattern.data, expected, atol=1e-6)


def test_key_frequency_report_hand_built():
    p = 23
    model = random_model(p, d_model=8)
    with torch.no_grad():
        model.embed.W_E[:p] = 0.01 * model.embed.W_E[:p]
        model.embed.W_E[:p, 0] += wave(p, 3).float()
        model.embed.W_E[:p, 1] += wave(p, 7, 1.0).float()
        model.unembed.W_U[0] = wave(p, 3).float()
        model.unembed.W_U[1] = wave(p, 7).float()
    report = key_frequency_report(model)
    assert report.frequencies == [3, 7]
    assert report.scores[3] > 0.4 and report.scores[7] > 0.4
    assert report.from_W_U.frequencies == [3, 7]


@pytest.mark.parametrize("name, p, exponents", [("add", 13, ()), ("add", 12, ()), ("sub", 13, ()), ("mul", 13, ()),
                                                ("div", 13, ()), ("pow", 13, (5, 7)), ("pow", 13, (2, 5))])
def test_block_sums_without_the_second_transform_equal_the_full_spectrum(name, p, exponents):
    """The one-pass sums (ψ a bijection, Parseval along b) equal those of the whole 2-D spectrum;
    pow (2, 5) mod 13 has a many-to-one φ (gcd(2, 12) = 2), which the one-pass sums allow."""
    from grokviz.analysis.neurons import _block_squares_full, _block_squares_orthonormal_b
    from grokviz.core.tasks import Task

    coords = Task(name, p, *exponents).coordinates()
    assert coords.psi.is_bijection
    post = torch.randn(p, p, 9, generator=torch.Generator().manual_seed(p)).relu().double()
    for fast, full in zip(_block_squares_orthonormal_b(post, coords), _block_squares_full(post, coords)):
        torch.testing.assert_close(fast, full, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, p, exponents", [("add", 13, ()), ("mul", 13, ()), ("pow", 13, (5, 7)), ("pow", 13, (2, 5))])
def test_fractions_at_a_few_frequencies_equal_the_full_rows(name, p, exponents):
    from grokviz.analysis.neurons import neuron_fraction_at
    from grokviz.core.tasks import Task

    coords = Task(name, p, *exponents).coordinates()
    post = torch.randn(p, p, 9, generator=torch.Generator().manual_seed(1)).relu()
    few = neuron_fraction_at(post, coords, [1, 3, coords.n // 2])
    if not coords.phi.is_bijection:  # a^2 mod 13 is two-to-one: no orthonormal basis, no shortcut
        assert few is None
        return
    full = neuron_frequency_fraction(post, coords).data
    torch.testing.assert_close(few, full[[1, 3, coords.n // 2]], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fixture", ["pow_run", "mul_run", "example"])
def test_the_live_key_frequencies_equal_the_report_at_every_checkpoint(fixture, request):
    """Trained pow m = n and mul at p = 23, and the bundled add example (its last checkpoints)."""
    from grokviz.analysis.spectrum import key_frequencies_only

    if fixture == "example":
        import grokviz
        from grokviz.core.example import example_path

        run = grokviz.load_run(example_path())
        epochs = run.epochs[-3:]
    else:
        run = request.getfixturevalue(fixture)
        epochs = run.epochs
    coords = run.task.coordinates()
    found = []
    for epoch in epochs:
        state = run.state_dict(epoch)
        keys = key_frequencies_only(state, coords)
        assert keys == [int(k) for k in key_frequency_report(state, coords=coords).frequencies]
        found.append(keys)
    assert found[-1], "the trained runs have key frequencies (the comparison is not between empty lists)"
