"""Autoencoders tab: linear, deep, convolutional and denoising autoencoders beside PCA and JPEG."""

from __future__ import annotations

import gradio as gr
from gradio.context import Context
from PIL import Image, ImageDraw, ImageFont

from core.checkpoints import CheckpointError, read_card
from core.images import to_model_input
from core.lazy import lazy_import
from core.runtime import generator
from demos import common
from demos.checks import valid_seed
from demos.errors import friendly_errors
from demos.render import image_grid, signed_to_rgb

ae = lazy_import("core.autoencoder")
metrics = lazy_import("core.metrics")

RECONSTRUCTION_MODELS = ("pca", "ae_linear", "ae_deep", "ae_conv", "ae_denoising")
DISPLAY_NAMES = {  # checkpoint -> the name a row or a caption shows
    "pca": "PCA-32",
    "ae_linear": "Linear AE",
    "ae_deep": "Deep AE",
    "ae_conv": "Conv AE",
    "ae_denoising": "Denoising AE",
}
JPEG_BUDGETS = (64, 256)  # bytes: a 32-number code, and the conv AE's 128-number code, at float16
NOISE_CHOICES = [("Gaussian", "gaussian"), ("Salt and pepper", "salt_and_pepper"), ("Masking", "masking")]
OUT_OF_DISTRIBUTION_FACTOR = 3.0  # error this many times the test-set average: "not what it was trained on"
TABLE_HEADERS = [
    "Method",
    "Code shape",
    "Code bytes",
    "File bytes",
    "Compression",
    "MSE",
    "PSNR (dB)",
    "MSE / test avg",
]

INTRO = r"""
## Autoencoders: data-specific, lossy compression
An **encoder** maps an image $x$ to a small code $z$, a **decoder** maps $z$ back to $\hat{x}$; training minimises
$\lVert x - \hat{x} \rVert^2$. Pick, upload or draw an image: every bundled model reconstructs it from its code.

- **Linear AE**: flatten, 784 → 32 → 784, no activation. **PCA-32**: the best any linear 32-number code can do.
- **Deep AE**: 784-256-128-32 with ReLU, mirrored. **Conv AE**: Conv-ReLU-MaxPool down to an 8×4×4 code,
  Conv-ReLU-Upsampling back. **Denoising AE**: a conv AE (32×7×7 code) trained on noisy inputs against clean targets.

Codes are stored as float16, so *code bytes* = 2 × numbers; the image itself is 784 bytes. JPEG is shown at a
similar budget: its *image data* fits the budget, but its tables and headers alone outweigh a 28×28 image, while
an autoencoder keeps that knowledge in its decoder's weights.
"""


def _card_metric(name: str, key: str) -> float | None:
    try:
        return read_card(name)["metrics"].get(key)
    except CheckpointError:
        return None


@friendly_errors
def reconstruct(image):
    """Image -> every model's reconstruction (gallery), a metrics table, and a note on what it shows."""
    x = to_model_input(image)
    results, missing = [], []
    for name in RECONSTRUCTION_MODELS:
        try:
            results.append((name, ae.reconstruct_with(DISPLAY_NAMES[name], ae.load(name), x)))
        except CheckpointError as error:
            missing.append(str(error))
    if not results:
        raise CheckpointError(" ".join(missing))
    results += [(None, ae.reconstruct_with_jpeg(x, budget)) for budget in JPEG_BUDGETS]

    gallery = [(common.display(x), "input (28×28)")]
    table = []
    for name, r in results:
        gallery.append((common.display(r.image), r.name))
        typical = _card_metric(name, "test_mse") if name else None
        table.append(
            [
                r.name,
                "×".join(map(str, r.code_shape)) if r.code_shape else "–",
                r.code_bytes,
                r.file_bytes if r.file_bytes is not None else "–",
                f"{r.compression_ratio:.1f}×",
                round(r.mse, 5),
                round(r.psnr_db, 2),
                f"{r.mse / typical:.1f}×" if typical else "–",
            ]
        )
    models = dict(results[: len(results) - len(JPEG_BUDGETS)])
    return gallery, table, _explain(models, [r for _, r in results[-len(JPEG_BUDGETS) :]], missing)


def _explain(by_name: dict, jpegs: list, missing: list[str]) -> str:
    lines = []
    deep, smallest_jpeg = by_name.get("ae_deep"), jpegs[0]
    if deep:
        verdict = "beats" if deep.mse < smallest_jpeg.mse else "loses to"
        lines.append(
            f"**Against JPEG:** with a {deep.code_bytes}-byte code the deep AE (MSE {deep.mse:.4f}) {verdict} JPEG's "
            f"{smallest_jpeg.code_bytes} bytes of image data (MSE {smallest_jpeg.mse:.4f}); but the JPEG file needs "
            f"{smallest_jpeg.file_bytes} bytes in all, and JPEG works on any image, not only on garments."
        )
    if "pca" in by_name and "ae_linear" in by_name:
        pca, linear = by_name["pca"], by_name["ae_linear"]
        overlap = _card_metric("ae_linear", "pca_subspace_mean_cos2")
        lines.append(
            f"**Linear AE vs PCA:** MSE {linear.mse:.4f} vs {pca.mse:.4f} on this image. A linear autoencoder "
            "with a 32-number code can do no better than PCA with 32 components, and gradient descent brings it "
            "to the same subspace"
            + (f" (mean cos² of the principal angles between them: {overlap:.3f})." if overlap else ".")
        )
    conv = by_name.get("ae_conv")
    typical = _card_metric("ae_conv", "test_mse") if conv else None
    if conv and typical and conv.mse > OUT_OF_DISTRIBUTION_FACTOR * typical:
        lines.append(
            f"**Out of distribution:** the conv AE's error is {conv.mse / typical:.0f}× its average on test garments. "
            "An autoencoder is *data specific*: it can only rebuild what looks like its training data."
        )
    lines += [f"⚠️ {text}" for text in missing]
    return "\n\n".join(lines)


def _noise_kind(value: str) -> str:
    kinds = {label.lower(): kind for label, kind in NOISE_CHOICES} | {kind: kind for _, kind in NOISE_CHOICES}
    if str(value).lower() not in kinds:
        raise ValueError(f"Unknown noise type {value!r}: choose Gaussian, Salt and pepper or Masking.")
    return kinds[str(value).lower()]


@friendly_errors
def denoise(image, noise_type, level, seed):
    """Image, noise type, level in [0, 1], seed -> noisy, denoised, the plain conv AE's output, clean, metrics."""
    x = to_model_input(image)
    kind = _noise_kind(noise_type)
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"The noise level must be a number in [0, 1], not {level!r}.") from None
    noisy = ae.add_noise(x, kind, level, generator(valid_seed(seed)))
    denoised = ae.load("ae_denoising").reconstruct(noisy)
    rows = [["noisy input", round(_psnr(noisy, x), 2)], ["denoising AE", round(_psnr(denoised, x), 2)]]
    try:
        plain = ae.load("ae_conv").reconstruct(noisy)
        rows.append(["conv AE trained on clean images", round(_psnr(plain, x), 2)])
        plain_image = common.display(plain)
    except CheckpointError:
        plain_image = None
    return common.display(noisy), common.display(denoised), plain_image, common.display(x), rows


def _psnr(a, b) -> float:
    return metrics.psnr(a, b).item()


@friendly_errors
def linear_bases():
    """PCA's components beside the linear AE's decoder columns, and how close their subspaces are."""
    pca_basis, ae_basis, cosines = ae.linear_bases(ae.load("pca"), ae.load("ae_linear"))
    text = (
        f"Cosines of the {len(cosines)} principal angles between the two subspaces: min {cosines.min():.3f}, "
        f"mean {cosines.mean():.3f} (1 = the same direction); they part only along the directions of least "
        "variance, which matter least for the error. Red is positive, blue negative, white zero. "
        "PCA's components come ordered by variance and orthonormal; gradient descent finds *a* basis of nearly the "
        "same subspace, mixed and unordered: the code is only defined up to an invertible 32×32 matrix."
    )
    return (
        image_grid(signed_to_rgb(pca_basis), columns=8, scale=3),
        image_grid(signed_to_rgb(ae_basis), columns=8, scale=3),
        text,
    )


def _when_image(handler, outputs: int):
    """A new input image refreshes a panel; a cleared one leaves it as it is (no error toast)."""

    def refresh(image, *args):
        return [gr.skip()] * outputs if image is None else handler(image, *args)

    return refresh


def out_of_distribution_examples(size: int = 112) -> dict[str, Image.Image]:
    """Inputs unlike any garment (a digit, a letter, a smiley), drawn with Pillow, white on black.

    They are inputs, not outputs: they show that an autoencoder is data specific (the gallery of inputs that are not garments).
    """
    examples = {}
    for label, text in (("digit 7", "7"), ("digit 3", "3"), ("letter A", "A")):
        canvas = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(canvas)
        font = ImageFont.load_default(size=int(size * 0.8))
        draw.text((size / 2, size / 2), text, fill=255, font=font, anchor="mm")
        examples[label] = canvas
    smiley = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(smiley)
    draw.ellipse((10, 10, size - 10, size - 10), outline=255, width=8)
    draw.ellipse((35, 38, 45, 48), fill=255)
    draw.ellipse((size - 45, 38, size - 35, 48), fill=255)
    draw.arc((32, 40, size - 32, size - 30), 20, 160, fill=255, width=7)
    examples["smiley"] = smiley
    return examples


def build(tab: gr.Tab) -> None:
    ood = out_of_distribution_examples()
    common.intro(INTRO)
    common.checkpoint_notice(RECONSTRUCTION_MODELS)
    with gr.Row():
        with gr.Column(scale=1, min_width=420):
            input_image = common.image_input("Input image: upload, or pick one below", value=common.sample_image(0))
            reconstruct_button = gr.Button("Reconstruct", variant="primary")
            common.image_sources(input_image, "ae", ood, "Not garments (out of distribution)")
        with gr.Column(scale=1, min_width=420):
            outputs_gallery = common.output_gallery("Reconstructions", elem_id="ae-reconstructions")
            note = gr.Markdown(label="What this shows")
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Compression and error", interactive=False)
    with gr.Accordion("What the linear AE learned: its decoder's 32 images beside PCA's", open=False) as bases:
        with gr.Row():
            pca_basis = common.output_image("PCA-32 components U_k (ordered by variance)", elem_id="ae-pca-basis")
            ae_basis = common.output_image("Linear AE decoder columns W_d", elem_id="ae-linear-basis")
        bases_note = gr.Markdown()

    gr.Markdown("### Denoising: trained on noisy inputs against clean targets")
    with gr.Row():
        noise_type = gr.Radio(NOISE_CHOICES, value="gaussian", label="Noise type", elem_id="ae-noise-type")
        level = gr.Slider(
            0.0,
            1.0,
            value=0.5,
            step=0.05,
            label="Level (σ for Gaussian, pixel share otherwise)",
            elem_id="ae-noise-level",
        )
        seed = common.seed_input()
        denoise_button = gr.Button("Add noise and denoise", variant="primary")
    with gr.Row():
        noisy_image = common.output_image("Noisy")
        denoised_image = common.output_image("Denoising AE", elem_id="ae-denoised")
        plain_image = common.output_image("Conv AE trained on clean images")
        clean_image = common.output_image("Clean")
    denoise_table = gr.Dataframe(
        headers=["Image", "PSNR vs clean (dB)"], interactive=False, label="PSNR", elem_id="ae-psnr"
    )

    reconstruction_outputs = [outputs_gallery, table, note]
    denoise_inputs = [input_image, noise_type, level, seed]
    denoise_outputs = [noisy_image, denoised_image, plain_image, clean_image, denoise_table]
    # The landing tab: every page load fills both panels from the example the input opens with.
    Context.root_block.load(
        _when_image(reconstruct, 3), input_image, reconstruction_outputs, **common.private("ae_open")
    )
    Context.root_block.load(
        _when_image(denoise, 5), denoise_inputs, denoise_outputs, **common.private("ae_open_denoising")
    )

    reconstruct_button.click(reconstruct, input_image, reconstruction_outputs, api_name="ae_reconstruct")
    bases.expand(linear_bases, None, [pca_basis, ae_basis, bases_note], api_name="ae_linear_bases")
    gr.on(
        [denoise_button.click, noise_type.change, level.release],
        denoise,
        denoise_inputs,
        denoise_outputs,
        api_name="ae_denoise",
    )
    # Two listeners, so that one panel failing (say, a missing checkpoint) does not blank the other.
    input_image.change(
        _when_image(reconstruct, 3), input_image, reconstruction_outputs, **common.private("ae_refresh_reconstruction")
    )
    input_image.change(
        _when_image(denoise, 5), denoise_inputs, denoise_outputs, **common.private("ae_refresh_denoising")
    )


def warm_up() -> None:
    """Load the tab's models (the background warm-up calls this once the page is up)."""
    reconstruct(common.sample_image(0))
