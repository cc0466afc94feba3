"""The autoencoder lecture's models: math, bundled checkpoints against their floors, and the tab's handlers."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import torch

from core import autoencoder as ae
from core.images import to_model_input
from core.metrics import mse, psnr
from demos import autoencoder as tab
from demos.common import sample_image
from tests.conftest import rgba_drawing, torch_generator

# --- math -------------------------------------------------------------------------------------------------------


@pytest.mark.fast
def test_pca_components_are_orthonormal_and_beat_any_other_rank_k_projection(sample_tensors):
    x, _ = sample_tensors
    pca = ae.PCA(ae.PCAConfig(components=8)).fit(x)
    u = pca.components
    assert torch.allclose(u.T @ u, torch.eye(8), atol=1e-4)
    random_basis, _ = torch.linalg.qr(torch.randn(784, 8, generator=torch_generator()))
    other = ae.PCA(ae.PCAConfig(components=8))
    other.mean.copy_(pca.mean)
    other.components.copy_(random_basis)
    assert mse(pca(x), x).mean() < 0.5 * mse(other(x), x).mean()


@pytest.mark.fast
def test_linear_autoencoder_is_affine():
    model = ae.LinearAutoencoder()
    a, b = torch.rand(1, 1, 28, 28), torch.rand(1, 1, 28, 28)
    f = model
    # affine map: f(0.3a + 0.7b) = 0.3 f(a) + 0.7 f(b)
    assert torch.allclose(f(0.3 * a + 0.7 * b), 0.3 * f(a) + 0.7 * f(b), atol=1e-5)


@pytest.mark.fast
def test_conv_autoencoder_code_shapes():
    assert ae.ConvAutoencoder(ae.ConvAEConfig()).encode(torch.zeros(2, 1, 28, 28)).shape == (2, 8, 4, 4)
    denoiser = ae.ConvAutoencoder(ae.ConvAEConfig(latent_channels=32, pool_latent=False))
    assert denoiser.encode(torch.zeros(2, 1, 28, 28)).shape == (2, 32, 7, 7)
    assert denoiser(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 28, 28)


@pytest.mark.fast
def test_noise_statistics_match_their_definitions():
    x = torch.full((1, 1, 200, 200), 0.5)
    gaussian = ae.add_noise(x, "gaussian", 0.1, torch_generator())
    assert (gaussian - x).std().item() == pytest.approx(0.1, rel=0.05)
    masked = ae.add_noise(x, "masking", 0.3, torch_generator())
    assert (masked == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    salted = ae.add_noise(x, "salt_and_pepper", 0.4, torch_generator())
    assert (salted == 1).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert (salted == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    for kind in ae.NOISE_TYPES:
        assert torch.equal(ae.add_noise(x, kind, 0.0, torch_generator()), x)


@pytest.mark.fast
@pytest.mark.parametrize(
    "kind,level", [("speckle", 0.5), ("gaussian", -0.1), ("masking", 1.5), ("gaussian", float("nan"))]
)
def test_bad_noise_arguments_raise(kind, level):
    with pytest.raises(ValueError):
        ae.add_noise(torch.zeros(1, 1, 4, 4), kind, level)


@pytest.mark.fast
def test_training_noise_mixes_all_three_kinds():
    x = torch.full((300, 1, 28, 28), 0.5)
    noisy = ae.random_noise(x, torch_generator(), {"gaussian": 0.5, "salt_and_pepper": 0.5, "masking": 0.5})
    values = noisy.flatten(1)
    has_only_three_values = ((values == 0) | (values == 0.5) | (values == 1)).all(dim=1)
    has_zeros_only = ((values == 0) | (values == 0.5)).all(dim=1)
    assert 0 < has_only_three_values.sum() < 300 and has_zeros_only.sum() > 0  # Gaussian and the two others


@pytest.mark.fast
def test_jpeg_payload_fits_budget_and_grows_with_it(sample_tensors):
    x = sample_tensors[0][:1]
    small, large = ae.jpeg_at_budget(x, 64), ae.jpeg_at_budget(x, 256)
    assert small.payload_bytes <= 64 < small.file_bytes
    assert small.payload_bytes < large.payload_bytes <= 256 and large.quality > small.quality
    assert mse(large.image, x).item() < mse(small.image, x).item()
    shown = ae.reconstruct_with_jpeg(x, 256)  # the tab's row: its MSE and PSNR are the image's
    assert shown.mse == pytest.approx(mse(large.image, x).item())
    assert shown.psnr_db == pytest.approx(psnr(large.image, x).item())
    assert shown.psnr_db == pytest.approx(-10 * np.log10(shown.mse), rel=1e-5)


@pytest.mark.fast
def test_subspace_similarity_is_one_for_same_span_zero_for_orthogonal():
    basis = torch.linalg.qr(torch.randn(20, 6, generator=torch_generator()))[0]
    mixed = basis @ torch.randn(6, 6, generator=torch_generator(1))
    assert torch.allclose(ae.subspace_similarity(basis, mixed), torch.ones(6, dtype=torch.float64), atol=1e-6)
    assert ae.subspace_similarity(basis[:, :3], basis[:, 3:]).max() < 1e-6


@pytest.mark.fast
def test_compression_ratio_counts_float16_codes():
    assert ae.compression_ratio(32) == pytest.approx(784 / 64)


# --- bundled checkpoints against the floors --------------------------------------------------------------


def sample_mse(name, x):
    return mse(ae.load(name).reconstruct(x), x).mean().item()


def test_mse_ordering_conv_deep_linear(sample_tensors):
    x, _ = sample_tensors
    linear, deep, conv = (sample_mse(name, x) for name in ("ae_linear", "ae_deep", "ae_conv"))
    assert conv <= deep <= linear, (conv, deep, linear)


def test_linear_autoencoder_is_within_10_percent_of_pca(sample_tensors):
    x, _ = sample_tensors
    assert sample_mse("ae_linear", x) <= 1.10 * sample_mse("pca", x)


def test_linear_autoencoder_spans_pca_subspace():
    cosines = ae.subspace_similarity(ae.load("ae_linear").decoder.weight.detach(), ae.load("pca").components)
    assert (cosines**2).mean() > 0.9


def test_denoiser_gains_8_db_at_gaussian_half(sample_tensors):
    x, _ = sample_tensors
    noisy = ae.add_noise(x, "gaussian", 0.5, torch_generator(123))
    gain = psnr(ae.load("ae_denoising").reconstruct(noisy), x).mean() - psnr(noisy, x).mean()
    assert gain >= 8.0, gain


def test_denoiser_beats_the_plain_conv_autoencoder_on_every_noise(sample_tensors):
    x, _ = sample_tensors
    for kind, level in (("gaussian", 0.5), ("salt_and_pepper", 0.2), ("masking", 0.5)):
        noisy = ae.add_noise(x, kind, level, torch_generator(7))
        trained = psnr(ae.load("ae_denoising").reconstruct(noisy), x).mean()
        plain = psnr(ae.load("ae_conv").reconstruct(noisy), x).mean()
        assert trained > plain + 1.0, (kind, trained, plain)


def test_out_of_distribution_examples_are_drawn_not_garments():
    examples = tab.out_of_distribution_examples()
    assert {"digit 7", "smiley"} <= set(examples)
    for image in examples.values():
        assert to_model_input(image).max() > 0.5


def test_out_of_distribution_inputs_reconstruct_worse(sample_tensors):
    x, _ = sample_tensors
    garments = sample_mse("ae_conv", x)
    digits = torch.cat([to_model_input(image) for image in tab.out_of_distribution_examples().values()])
    assert sample_mse("ae_conv", digits) > 3 * garments


# --- handlers --------------------------------------------------------------------------------------------------


def test_reconstruct_handler_shows_every_model_and_jpeg():
    gallery, table, note = tab.reconstruct(sample_image(0))
    assert len(gallery) == 1 + len(tab.RECONSTRUCTION_MODELS) + len(tab.JPEG_BUDGETS)
    assert all(image.size == (224, 224) for image, _ in gallery)
    names = [row[0] for row in table]
    assert names[:5] == [tab.DISPLAY_NAMES[n] for n in tab.RECONSTRUCTION_MODELS] and names[5].startswith("JPEG")
    assert [row[1] for row in table[:5]] == ["32", "32", "32", "8×4×4", "32×7×7"]
    assert "Linear AE vs PCA" in note and "Out of distribution" not in note


def test_reconstruct_flags_a_digit_as_out_of_distribution():
    _, _, note = tab.reconstruct(tab.out_of_distribution_examples()["digit 7"])
    assert "Out of distribution" in note


def test_reconstruct_handles_a_drawing():
    gallery, _, _ = tab.reconstruct(rgba_drawing(strokes=[(40, 60, 240, 100), (40, 180, 240, 220), (40, 60, 80, 220)]))
    assert len(gallery) == 8


def test_denoise_handler_raises_psnr():
    noisy, denoised, plain, clean, rows = tab.denoise(sample_image(1), "gaussian", 0.5, 3)
    assert all(image.size == (224, 224) for image in (noisy, denoised, plain, clean))
    psnr_by_name = dict(rows)
    assert psnr_by_name["denoising AE"] > psnr_by_name["noisy input"] + 5


def test_denoise_is_reproducible_per_seed():
    first = np.asarray(tab.denoise(sample_image(1), "masking", 0.5, 11)[0])
    again = np.asarray(tab.denoise(sample_image(1), "Masking", 0.5, 11)[0])
    other = np.asarray(tab.denoise(sample_image(1), "masking", 0.5, 12)[0])
    assert np.array_equal(first, again) and not np.array_equal(first, other)


@pytest.mark.fast
@pytest.mark.parametrize(
    "args,message",
    [
        ((None, "gaussian", 0.5, 0), "No image"),
        ((rgba_drawing(), "gaussian", 0.5, 0), "transparent"),
        (("sample", "speckle", 0.5, 0), "Unknown noise type"),
        (("sample", "gaussian", 1.5, 0), "must lie in"),
        (("sample", "gaussian", "lots", 0), "must be a number"),
        (("sample", "gaussian", 0.5, -1), "seed must lie"),
        (("sample", "gaussian", 0.5, "x"), "whole number"),
        (("sample", "gaussian", 0.5, 2**40), "seed must lie"),
    ],
)
def test_denoise_rejects_bad_input_with_a_message(args, message):
    image = sample_image(2) if isinstance(args[0], str) else args[0]
    with pytest.raises(gr.Error, match=message):
        tab.denoise(image, *args[1:])


@pytest.mark.fast
def test_reconstruct_rejects_empty_input_with_a_message():
    with pytest.raises(gr.Error, match="No image was given. Pick an example, upload a picture or draw one."):
        tab.reconstruct(None)


@pytest.mark.fast
def test_missing_checkpoints_give_a_message_not_a_crash(empty_checkpoints):
    with pytest.raises(gr.Error, match=r"python -m core\.train ae_conv"):
        tab.reconstruct(sample_image(0))
    with pytest.raises(gr.Error, match=r"python -m core\.train ae_denoising"):
        tab.denoise(sample_image(0), "gaussian", 0.5, 0)


def test_one_missing_checkpoint_leaves_the_others_working(tmp_path, monkeypatch):
    import shutil

    from core.checkpoints import checkpoint_root
    from core.runtime import MODELS

    for name in ("pca", "ae_linear", "ae_deep", "ae_conv"):
        shutil.copytree(checkpoint_root() / name, tmp_path / name)
    monkeypatch.setenv("GENMODELS_CHECKPOINTS", str(tmp_path))
    MODELS.clear()
    try:
        _gallery, table, note = tab.reconstruct(sample_image(0))
        assert len(table) == 4 + len(tab.JPEG_BUDGETS) and "python -m core.train ae_denoising" in note
    finally:
        MODELS.clear()


def test_linear_bases_handler_shows_both_bases_and_their_agreement():
    pca_image, ae_image, text = tab.linear_bases()
    assert pca_image.size == ae_image.size and pca_image.mode == "RGB"
    mean_cosine = float(text.split("mean ")[1].split(" ")[0])
    assert mean_cosine > 0.95


def test_the_app_builds_with_no_checkpoints_at_all(empty_checkpoints):
    import app

    blocks = app.build_app()
    notices = [c for c in blocks.blocks.values() if "checkpoint-notice" in (getattr(c, "elem_classes", None) or [])]
    assert notices and "python -m core.train ae_conv" in notices[0].value
