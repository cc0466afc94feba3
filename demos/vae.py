"""VAE tab: latent size, the 2-D latent explorer, sampling, interpolation, latent arithmetic, training curves."""

from __future__ import annotations

import functools

import gradio as gr
import pandas as pd

from core import catalog, latent
from core.checkpoints import CheckpointError, read_card
from core.datasets import FASHION_CLASSES, load_sample
from core.images import to_model_input
from core.lazy import lazy_import
from core.runtime import generator
from demos import common
from demos.checks import MAX_GRID_SAMPLES, MAX_PATH_STEPS, bounded_float, bounded_int, valid_seed
from demos.errors import friendly_errors
from demos.render import image_grid, mark, scatter_codes

torch = lazy_import("torch")
vae = lazy_import("core.vae")
metrics = lazy_import("core.metrics")

MODEL_CHOICES = [(f"{d}-D", d) for d in catalog.VAE_LATENT_SIZES]
MAP_SIZE = 420  # pixels of the latent map
MANIFOLD_STEPS = 15
INTRO = r"""
## Variational autoencoders
The encoder gives a distribution $q(z \mid x) = \mathcal{N}(\mu, \sigma^2)$, not a point; a sample
$z = \mu + \sigma \odot \varepsilon$, $\varepsilon \sim \mathcal{N}(0, I)$, goes to the decoder.

Training maximises the ELBO, $\mathbb{E}_{q(z \mid x)}[\log p(x \mid z)] - KL(q(z \mid x) \,\|\, \mathcal{N}(0, I))$:
the KL term packs the codes around the origin so that **$z \sim \mathcal{N}(0, I)$ decodes to new images** — the decoder becomes a generative model. Three MLP VAEs
with the lecture's latent sizes, 2, 5 and 20, trained on Fashion-MNIST.

The decoder is Gaussian, $p(x \mid z) = \mathcal{N}(\hat{x}, s^2 I)$, with one learned noise level $s$: the
reconstruction term is the lecture's *reconstruction error*, $\lVert x - \hat{x} \rVert^2 / 2s^2 + 784 \log s + \text{const}$. It is a density, so where the model fits
well it is above 1 and the nats are negative: compare them between models, not with zero.
"""


def _model(latent_dim) -> vae.VAE:
    try:
        latent_dim = int(latent_dim)
    except (TypeError, ValueError):
        raise ValueError(
            f"The model is a latent size, one of {catalog.VAE_LATENT_SIZES}, not {latent_dim!r}."
        ) from None
    if latent_dim not in catalog.VAE_LATENT_SIZES:
        raise ValueError(f"There is no {latent_dim}-D model; choose one of {catalog.VAE_LATENT_SIZES}.")
    return vae.load(latent_dim)


# --- reconstructions ----------------------------------------------------------------------------------------


@friendly_errors
def reconstruct(image):
    """Image -> its reconstruction by each latent size (from the mean code), and a table of errors."""
    x = to_model_input(image)
    gallery, rows = [(common.display(x), "input")], []
    for d in catalog.VAE_LATENT_SIZES:
        model = _model(d)
        with torch.inference_mode():
            x_hat = model.decode(vae.encode_mean(model, x))
            terms = vae.elbo_terms(model, x, generator(0))
        gallery.append((common.display(x_hat), f"{d}-D"))
        rows.append(
            [
                f"{d}-D",
                round(metrics.mse(x_hat, x).item(), 5),
                round(terms.reconstruction.item(), 1),
                round(terms.kl.item(), 1),
                round(terms.negative_elbo.item(), 1),
            ]
        )
    return gallery, rows


# --- the 2-D latent explorer --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _explorer():
    """The 2-D model's window, its map of codes and its manifold, computed once per process (after a first load).
    The map shows the whole test set's codes, stored with the model; the bundled sample's where that file is absent."""
    model = _model(2)
    stored = vae.load_map_codes()
    if stored is not None:
        codes, labels = stored
        what, radius = f"{len(codes):,} test images", 1.5
    else:
        x, labels = load_sample().tensors()
        codes, what, radius = vae.encode_mean(model, x), f"the {len(x)} bundled test images", 3
    half_width = max(3.0, round(float(codes.abs().quantile(0.99)) + 0.5))
    window = vae.LatentWindow(half_width, MAP_SIZE)
    base = scatter_codes([window.to_pixel(z) for z in codes], labels, MAP_SIZE, radius=radius)
    with torch.inference_mode():
        manifold = image_grid(model.decode(window.grid(MANIFOLD_STEPS)), columns=MANIFOLD_STEPS, scale=2, pad=0)
    return window, base, manifold, what


@friendly_errors
def explorer_open():
    """The map of the test images' codes, and the decoded manifold over the same window."""
    window, base, manifold, what = _explorer()
    return (
        base,
        manifold,
        (
            f"Codes of {what}. Window: z₁, z₂ ∈ [−{window.half_width:g}, {window.half_width:g}]. "
            "Click the map to decode a point."
        ),
    )


@friendly_errors
def explorer_click(evt: gr.SelectData):
    """A click on the map (pixel coordinates) -> the decoded point, the marked map, the point's coordinates."""
    window, base, _, _ = _explorer()
    col, row = evt.index
    z = window.to_latent(col, row)
    image = decode(2, [float(z[0]), float(z[1])])
    x_px, y_px = window.to_pixel(z)
    return image, mark(base, x_px, y_px), f"z = ({z[0]:.2f}, {z[1]:.2f})"


def _parse_z(z, latent_dim: int) -> torch.Tensor:
    if isinstance(z, str):
        try:
            values = [float(part) for part in z.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise ValueError("z: write numbers separated by commas, e.g. 0.5, -1.2.") from None
    elif isinstance(z, (list, tuple)):
        values = z
    else:
        raise ValueError("z must be a list of numbers or text like '0.5, -1.2'.")
    try:
        vector = torch.tensor([float(v) for v in values])
    except (TypeError, ValueError):
        raise ValueError("z must hold numbers only.") from None
    if vector.numel() != latent_dim:
        raise ValueError(f"The {latent_dim}-D model needs {latent_dim} numbers in z, not {vector.numel()}.")
    if not torch.isfinite(vector).all() or vector.abs().max() > 50:
        raise ValueError("Every number in z must be finite and within ±50 (the prior puts almost all mass within ±4).")
    return vector


@friendly_errors
def decode(latent_dim, z):
    """A model (latent size) and a code z (a list, or text '0.5, -1.2') -> the decoded image."""
    model = _model(latent_dim)
    vector = _parse_z(z, model.config.latent_dim)
    with torch.inference_mode():
        return common.display(model.decode(vector.view(1, -1)))


# --- sampling -----------------------------------------------------------------------------------------------


@friendly_errors
def sample(latent_dim, seed, n, temperature):
    """z ~ N(0, temperature² I), decoded: a grid of n images from one model."""
    model = _model(latent_dim)
    n = bounded_int(n, "The number of samples", 1, MAX_GRID_SAMPLES)
    temperature = bounded_float(temperature, "The temperature", 0.0, 3.0)
    seed = valid_seed(seed)
    z = latent.sample_prior(n, model.config.latent_dim, generator(seed), temperature)
    with torch.inference_mode():
        images = model.decode(z)
    return image_grid(images, columns=min(n, 8), scale=3)


def sample_each(seed, n, temperature):
    return tuple(sample(d, seed, n, temperature) for d in catalog.VAE_LATENT_SIZES)


# --- interpolation ------------------------------------------------------------------------------------------


@friendly_errors
def interpolate(latent_dim, image_a, image_b, steps):
    """Two images -> strips decoded along the straight line and along the great circle between their codes."""
    model = _model(latent_dim)
    steps = bounded_int(steps, "The number of steps", 2, MAX_PATH_STEPS)
    codes = vae.encode_mean(model, torch.cat([to_model_input(image_a), to_model_input(image_b)]))
    t = torch.linspace(0, 1, steps)
    with torch.inference_mode():
        linear = model.decode(latent.lerp(codes[0], codes[1], t))
        spherical = model.decode(latent.slerp(codes[0], codes[1], t))
    return image_grid(linear, columns=steps, scale=3), image_grid(spherical, columns=steps, scale=3)


# --- latent arithmetic --------------------------------------------------------------------------------------

ARITHMETIC_PRESETS = {  # a + (b - c), and the class one might hope for
    "sneaker + (ankle boot − sandal)": ("mean: Sneaker", "mean: Ankle boot", "mean: Sandal", "Ankle boot"),
    "shirt + (trouser − T-shirt)": ("mean: Shirt", "mean: Trouser", "mean: T-shirt/top", "Trouser"),
    "pullover + (coat − shirt)": ("mean: Pullover", "mean: Coat", "mean: Shirt", "Coat"),
    "sandal + (bag − sneaker)": ("mean: Sandal", "mean: Bag", "mean: Sneaker", "Bag"),
}
SAMPLE_CHOICES = 30  # bundled sample images offered as operands


def operand_choices() -> list[str]:
    sample = load_sample()
    return [f"mean: {name}" for name in FASHION_CLASSES] + [
        f"image #{i}: {FASHION_CLASSES[sample.labels[i]]}" for i in range(SAMPLE_CHOICES)
    ]


@functools.lru_cache(maxsize=len(catalog.VAE_LATENT_SIZES))
def _sample_codes(latent_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, labels = load_sample().tensors()
    return vae.encode_mean(_model(latent_dim), x), labels


def _operand(choice: str, latent_dim: int) -> torch.Tensor:
    codes, labels = _sample_codes(latent_dim)
    text = str(choice).strip()
    if text.startswith("mean:"):
        name = text.split(":", 1)[1].strip()
        if name not in FASHION_CLASSES:
            raise ValueError(f"Unknown class {name!r}; the classes are: {', '.join(FASHION_CLASSES)}.")
        return vae.class_means(codes, labels)[FASHION_CLASSES.index(name)]
    if text.startswith("image #"):
        index = bounded_int(text[len("image #") :].split(":")[0], "The image number", 0, len(labels) - 1)
        return codes[index]
    raise ValueError(f"Operands look like 'mean: Sneaker' or 'image #3: ...', not {choice!r}.")


@friendly_errors
def arithmetic(latent_dim, a, b, c):
    """Operands a, b, c ('mean: <class>' or 'image #<k>: ...') -> decoded a, b, c, a + (b − c); its nearest real
    sample images; and what the evaluation classifier makes of the result."""
    model = _model(latent_dim)
    za, zb, zc = (_operand(choice, model.config.latent_dim) for choice in (a, b, c))
    z = vae.latent_arithmetic(za, zb, zc)
    with torch.inference_mode():
        decoded = model.decode(torch.stack([za, zb, zc, z]))
        probabilities = metrics.load_classifier()(decoded[3:]).softmax(dim=1)[0]
    codes, labels = _sample_codes(model.config.latent_dim)
    sample = load_sample()
    neighbours = [
        (common.display(sample.images[i] / 255.0), FASHION_CLASSES[labels[i]])
        for i in vae.nearest(z, codes, 5).tolist()
    ]
    strip = [(common.display(decoded[i]), name) for i, name in enumerate(("a", "b", "c", "a + (b − c)"))]
    top = probabilities.argsort(descending=True)[:3].tolist()
    verdict = {FASHION_CLASSES[k]: round(probabilities[k].item(), 3) for k in top}
    return strip, neighbours, verdict


def arithmetic_preset(name):
    a, b, c, hope = ARITHMETIC_PRESETS.get(name, next(iter(ARITHMETIC_PRESETS.values())))
    return a, b, c, f"Hoped for: **{hope}**. Compare with the classifier's verdict and the neighbours."


# --- training curves ----------------------------------------------------------------------------------------


def _cards() -> list[tuple[int, dict]]:
    """(latent size, card) of each bundled model whose card can be read."""
    cards = []
    for d in catalog.VAE_LATENT_SIZES:
        try:
            cards.append((d, read_card(catalog.vae_checkpoint_name(d))))
        except CheckpointError:
            continue
    return cards


def model_summary() -> pd.DataFrame:
    """One row per model from its card: the test terms, the learned noise level s, the dimensions in use."""
    keys = (
        "test_reconstruction_nats",
        "test_kl_nats",
        "test_negative_elbo_nats",
        "test_mse",
        "decoder_noise_level_s",
        "active_latent_dimensions",
    )
    rows = [[f"{d}-D", *(card["metrics"].get(key) for key in keys)] for d, card in _cards()]
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "reconstruction (nats)",
            "KL (nats)",
            "−ELBO (nats)",
            "MSE",
            "noise level s",
            "dimensions in use",
        ],
    )


def training_curves() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-epoch test reconstruction and KL terms (nats) of each model, from the cards."""
    reconstruction, kl = [], []
    for d, card in _cards():
        curves = card["curves"]
        for epoch, (r, k) in enumerate(zip(curves["test_reconstruction_nats"], curves["test_kl_nats"]), start=1):
            reconstruction.append((epoch, r, f"{d}-D"))
            kl.append((epoch, k, f"{d}-D"))
    return (
        pd.DataFrame(reconstruction, columns=["epoch", "reconstruction (nats)", "model"]),
        pd.DataFrame(kl, columns=["epoch", "KL (nats)", "model"]),
    )


# --- layout -------------------------------------------------------------------------------------------------


def build(tab: gr.Tab) -> None:
    common.intro(INTRO)
    common.checkpoint_notice([catalog.vae_checkpoint_name(d) for d in catalog.VAE_LATENT_SIZES] + ["classifier"])

    gr.Markdown("### Latent size: a higher dimension captures more")
    with gr.Row():
        with gr.Column(min_width=420):
            input_image = common.image_input(value=common.sample_image(0))
            reconstruct_button = gr.Button("Reconstruct", variant="primary")
            common.image_sources(input_image, "vae")
        with gr.Column(min_width=420):
            reconstructions = common.output_gallery("Reconstructions from the mean code", elem_id="vae-reconstructions")
            errors = gr.Dataframe(
                headers=["Model", "MSE", "Reconstruction (nats)", "KL (nats)", "−ELBO (nats)"],
                label="This image's terms (one z sample)",
                interactive=False,
            )

    gr.Markdown("### The 2-D latent space: click anywhere to decode that point")
    with gr.Row():
        latent_map = common.output_image(
            "Codes μ of test images, coloured by class", elem_id="vae-map", height=MAP_SIZE + 40
        )
        with gr.Column():
            decoded_point = common.output_image("Decoded point", elem_id="vae-decoded-point")
            point_text = gr.Markdown()
            with gr.Row():
                decode_model = gr.Radio(MODEL_CHOICES, value=2, label="Model")
                z_text = gr.Textbox(value="0, 0", label="z (comma-separated)")
            decode_button = gr.Button("Decode z")
            gr.HTML(common.class_legend())
        manifold = common.output_image("Decoded manifold over the same window", height=MAP_SIZE + 40)

    gr.Markdown("### Sampling: z ~ N(0, T² I) through the decoder")
    with gr.Row():
        seed = common.seed_input()
        count = gr.Slider(1, MAX_GRID_SAMPLES, value=16, step=1, label="Samples per model")
        temperature = gr.Slider(0.0, 3.0, value=1.0, step=0.1, label="Temperature T", elem_id="vae-temperature")
        sample_button = gr.Button("Sample", variant="primary")
    with gr.Row():
        sample_grids = [
            common.output_image(f"{d}-D samples", elem_id=f"vae-samples-{d}") for d in catalog.VAE_LATENT_SIZES
        ]

    gr.Markdown("### Interpolation between two codes: straight line vs great circle")
    with gr.Row():
        image_a = gr.Image(
            common.sample_image(7),
            label="Image a (upload to change)",
            type="numpy",
            sources=["upload", "clipboard"],
            height=240,
        )
        image_b = gr.Image(
            common.sample_image(9), label="Image b", type="numpy", sources=["upload", "clipboard"], height=240
        )
        with gr.Column():
            interpolation_model = gr.Radio(MODEL_CHOICES, value=20, label="Model")
            steps = gr.Slider(2, MAX_PATH_STEPS, value=10, step=1, label="Steps")
            interpolate_button = gr.Button("Interpolate", variant="primary")
    linear_strip = common.output_image("Linear: (1 − t)·z_a + t·z_b")
    spherical_strip = common.output_image("Spherical (slerp): along the great circle, norms interpolated")

    gr.Markdown(
        '### Latent arithmetic: a + (b − c) — "not that easy"\n'
        "The result is decoded beside its nearest real images; the evaluation classifier says what it sees."
    )
    with gr.Row():
        # min_width: on a phone each takes a line of its own rather than cutting its value short
        preset = gr.Dropdown(
            list(ARITHMETIC_PRESETS), value=next(iter(ARITHMETIC_PRESETS)), label="Preset", min_width=300
        )
        choices = operand_choices()
        first = next(iter(ARITHMETIC_PRESETS.values()))
        operand_a = gr.Dropdown(choices, value=first[0], label="a", min_width=210)
        operand_b = gr.Dropdown(choices, value=first[1], label="b", min_width=210)
        operand_c = gr.Dropdown(choices, value=first[2], label="c", min_width=210)
        arithmetic_model = gr.Radio(MODEL_CHOICES, value=20, label="Model")
        arithmetic_button = gr.Button("Compute a + (b − c)", variant="primary")
    with gr.Row():  # each gallery gets half the width: in a third, a + (b - c) was cut off at the right
        arithmetic_strip = common.output_gallery("a, b, c and the result, decoded", elem_id="vae-arithmetic")
        neighbours = common.output_gallery("Nearest real images (by code)", columns=5)
    with gr.Row():
        verdict = gr.Label(label="The classifier on the result", num_top_classes=3)
        hope = gr.Markdown(arithmetic_preset(next(iter(ARITHMETIC_PRESETS)))[3])

    with gr.Accordion("Training: the reconstruction and KL terms compete", open=False):
        reconstruction_curve, kl_curve = training_curves()
        with gr.Row():
            gr.LinePlot(
                reconstruction_curve,
                x="epoch",
                y="reconstruction (nats)",
                color="model",
                label="Test reconstruction term per epoch",
            )
            gr.LinePlot(kl_curve, x="epoch", y="KL (nats)", color="model", label="Test KL term per epoch")
    gr.Dataframe(
        model_summary(),
        label="Full test set after training (cards). A dimension is in use when its code "
        "μⱼ varies over the data (variance > 0.01); the KL term holds the others at the prior.",
        interactive=False,
    )

    reconstruction = [reconstructions, errors]
    sampling = [seed, count, temperature]
    interpolation, strips = [interpolation_model, image_a, image_b, steps], [linear_strip, spherical_strip]
    operands = [arithmetic_model, operand_a, operand_b, operand_c]
    arithmetic_results = [arithmetic_strip, neighbours, verdict]
    reconstruct_button.click(reconstruct, input_image, reconstruction, api_name="vae_reconstruct")
    input_image.change(
        lambda image: [gr.skip()] * 2 if image is None else reconstruct(image),
        input_image,
        reconstruction,
        **common.private("vae_refresh"),
    )
    # Opening the tab fills every panel, so a lecturer lands on a working page rather than empty frames; first the
    # example the input opens with.
    tab.select(reconstruct, input_image, reconstruction, **common.private("vae_open_example"))
    tab.select(explorer_open, None, [latent_map, manifold, point_text], **common.private("vae_explorer")).then(
        sample_each, sampling, sample_grids, **common.private("vae_open_samples")
    ).then(interpolate, interpolation, strips, **common.private("vae_open_interpolation")).then(
        arithmetic, operands, arithmetic_results, **common.private("vae_open_arithmetic")
    )
    latent_map.select(explorer_click, None, [decoded_point, latent_map, point_text], **common.private("vae_click"))
    decode_button.click(decode, [decode_model, z_text], decoded_point, api_name="vae_decode")
    sample_button.click(sample_each, sampling, sample_grids, **common.private("vae_sample_each"))
    # /vae_sample takes the model as an argument; the page shows all three side by side instead, so this endpoint
    # is bound to a hidden model input and a trigger the page never fires: it is for API clients.
    api_model = gr.Radio(MODEL_CHOICES, value=20, label="Model", visible=False)
    gr.Button(visible=False).click(sample, [api_model, *sampling], sample_grids[-1], api_name="vae_sample")
    interpolate_button.click(interpolate, interpolation, strips, api_name="vae_interpolate")
    preset.input(
        arithmetic_preset, preset, [operand_a, operand_b, operand_c, hope], **common.private("vae_arithmetic_preset")
    ).then(arithmetic, operands, arithmetic_results, **common.private("vae_arithmetic_after_preset"))
    arithmetic_button.click(arithmetic, operands, arithmetic_results, api_name="vae_arithmetic")


def warm_up() -> None:
    """Load the VAEs and compute the explorer's map, as the tab does when it opens."""
    explorer_open()
    for latent_dim in catalog.VAE_LATENT_SIZES:
        _sample_codes(latent_dim)
