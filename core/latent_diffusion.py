"""Latent diffusion (Rombach et al. 2022), the idea behind Stable Diffusion, small enough for a CPU.

Noising and denoising in pixel space are slow; so a KL-regularised autoencoder (diffusers' `AutoencoderKL`, trained
first and then frozen) compresses each 28x28 garment (padded to 32x32) into a latent z of 4 x 8 x 8, and the
diffusion of core/diffusion.py runs on z instead of x:

    z_0 = s · E(x),   z_t = √ᾱ_t z_0 + √(1 − ᾱ_t) ε,   loss ‖ε − ε_θ(z_t, t, c)‖²,   x̂ = D(z_0 / s)

(s scales the latents to unit variance, as Stable Diffusion's 0.18215 does). The text c conditions the U-Net
(diffusers' `UNet2DConditionModel`) through cross-attention on the token states of the bundled CLIP's text encoder.
Training drops the text 10% of the time, so one network learns ε_θ(z_t, t, c) and ε_θ(z_t, t, ∅); sampling mixes
them with classifier-free guidance (Ho & Salimans 2022):

    ε̂ = ε_θ(z_t, t, ∅) + w · (ε_θ(z_t, t, c) − ε_θ(z_t, t, ∅)).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from core import samplers
from core.blocks import crop_from_model, pad_to_model
from core.captions import CLASS_PROMPT_NAMES, class_prompt
from core.catalog import (
    LDM_AUTOENCODER_CHECKPOINT,
    LDM_DEFAULT_GUIDANCE,
    LDM_DENOISER_CHECKPOINT,
    LDM_MAX_PROMPT_CHARACTERS,
)
from core.checkpoints import CheckpointError, load_model, read_card
from core.clip import CLIPBundle, cosine_similarities, load_bundle
from core.runtime import MODELS, in_precision
from core.samplers import DiffusionStep, on_stride

if TYPE_CHECKING:
    from diffusers import AutoencoderKL, UNet2DConditionModel

IMAGE_PAD = 2  # 28 px garments are padded to 32 px: three halvings then give an 8x8 latent
LATENT_SHAPE = (4, 8, 8)
MAX_PROMPT_CHARACTERS = LDM_MAX_PROMPT_CHARACTERS  # core/catalog.py
DEFAULT_GUIDANCE = LDM_DEFAULT_GUIDANCE  # core/catalog.py
TEXT_DROPOUT = 0.1  # share of training captions replaced by "" (the unconditional ε_θ(z_t, t, ∅))


@dataclass(frozen=True)
class AutoencoderSize:
    """Stage 1's AutoencoderKL: 1 channel in and out, 32 -> 16 -> 8 px, 4 latent channels (a 4x compression)."""

    widths: tuple[int, ...] = (32, 64, 64)  # one level per width; each level but the last halves the side
    layers_per_block: int = 1
    norm_groups: int = 16


def autoencoder_config(size: AutoencoderSize = AutoencoderSize()) -> dict:
    """AutoencoderKL's arguments for `size`."""
    return dict(
        in_channels=1,
        out_channels=1,
        down_block_types=("DownEncoderBlock2D",) * len(size.widths),
        up_block_types=("UpDecoderBlock2D",) * len(size.widths),
        block_out_channels=size.widths,
        layers_per_block=size.layers_per_block,
        latent_channels=LATENT_SHAPE[0],
        norm_num_groups=size.norm_groups,
        sample_size=32,
    )


@dataclass(frozen=True)
class DenoiserSize:
    """Stage 2's UNet2DConditionModel: plain residual blocks at 8x8, cross-attention to the text at 4x4."""

    widths: tuple[int, int] = (64, 128)  # at 8x8 and 4x4
    layers_per_block: int = 1
    attention_head_dim: int = 8
    norm_groups: int = 16


def denoiser_config(text_dim: int, size: DenoiserSize = DenoiserSize()) -> dict:
    """UNet2DConditionModel's arguments for `size`, attending to text states of text_dim."""
    return dict(
        sample_size=LATENT_SHAPE[1],
        in_channels=LATENT_SHAPE[0],
        out_channels=LATENT_SHAPE[0],
        layers_per_block=size.layers_per_block,
        block_out_channels=size.widths,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=text_dim,
        attention_head_dim=size.attention_head_dim,
        norm_num_groups=size.norm_groups,
    )


def pad_images(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, 28, 28) in [0, 1] -> (B, 1, 32, 32) in [−1, 1], black border."""
    return pad_to_model(images, IMAGE_PAD)


def unpad_images(x: torch.Tensor) -> torch.Tensor:
    """The autoencoder's (B, 1, 32, 32) in [−1, 1] -> (B, 1, 28, 28) in [0, 1]."""
    return crop_from_model(x, IMAGE_PAD)


def encode(autoencoder: AutoencoderKL, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z_0 = s · E(x): a sample of the encoder's Gaussian (its mean when generator is None), scaled to unit variance."""
    posterior = autoencoder.encode(pad_images(images)).latent_dist
    z = posterior.mean if generator is None else posterior.sample(generator)
    return z * autoencoder.config.scaling_factor


def decode(autoencoder: AutoencoderKL, z0: torch.Tensor) -> torch.Tensor:
    """x̂ = D(z_0 / s): latents -> images (B, 1, 28, 28) in [0, 1]."""
    return unpad_images(autoencoder.decode(z0 / autoencoder.config.scaling_factor).sample)


@dataclass
class TextContext:
    """The text encoder's token states (B, L, D) and which tokens are real (B, L): what cross-attention reads."""

    states: torch.Tensor
    mask: torch.Tensor

    def repeat(self, n: int) -> TextContext:
        return TextContext(self.states.expand(n, -1, -1), self.mask.expand(n, -1))


def encode_text(clip: CLIPBundle, prompts: Sequence[str]) -> TextContext:
    """The CLIP text transformer's last hidden states for each prompt (Stable Diffusion conditions on these too)."""
    tokens = clip.tokenize(prompts)
    states = clip.model.text_model(
        input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
    ).last_hidden_state
    return TextContext(states, tokens["attention_mask"])


def guided_noise(
    unet: UNet2DConditionModel,
    text: TextContext,
    empty: TextContext,
    guidance: float,
    bf16: bool = False,
    unconditional: bool = False,
):
    """ε̂(z_t, t) with classifier-free guidance: ε_∅ + w (ε_c − ε_∅), both from one batched U-Net call.

    text and empty hold one prompt each; w = 1 is plain conditioning, w = 0 ignores the text. bf16: the U-Net
    under bf16 autocast (the guidance arithmetic stays fp32). Where one branch decides alone (w = 1: ε_c;
    w = 0 or no prompt, `unconditional`: ε_∅) only that one is computed: half the cost, the same ε̂."""

    text, empty = pad_context(text, empty), pad_context(empty, text)
    network = in_precision(lambda *args, **kwargs: unet(*args, **kwargs).sample, bf16)
    alone = empty if unconditional or guidance == 0 else text if guidance == 1 else None

    def eps_model(z_t: torch.Tensor, t) -> torch.Tensor:
        n = len(z_t)
        if alone is not None:
            context = alone.repeat(n)
            return network(z_t, t, encoder_hidden_states=context.states, encoder_attention_mask=context.mask).float()
        states = torch.cat([empty.repeat(n).states, text.repeat(n).states])
        mask = torch.cat([empty.repeat(n).mask, text.repeat(n).mask])
        out = network(torch.cat([z_t, z_t]), t, encoder_hidden_states=states, encoder_attention_mask=mask).float()
        eps_empty, eps_text = out.chunk(2)
        return eps_empty + guidance * (eps_text - eps_empty)

    return eps_model


LATENT_RANGE_STDS = 4.0  # ẑ_0 is held within the training latents' mean ± this many standard deviations, per channel


def latent_range(
    channel_mean: Sequence[float], channel_std: Sequence[float], stds: float = LATENT_RANGE_STDS
) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, high) per latent channel: μ_c ∓ k σ_c of the training latents z_0 = s · E(x). The channels are far from
    zero-mean (s only scales their overall variance to 1), so a fixed range like the pixels' [−1, 1] would not fit."""
    mean, std = torch.tensor(channel_mean), torch.tensor(channel_std)
    return mean - stds * std, mean + stds * std


@dataclass
class LatentDiffusion:
    """The three frozen parts: autoencoder, text encoder (the bundled CLIP), and the conditional ε-predictor;
    latent_range, when known, holds each step's guess ẑ_0 inside the training latents' range (see latent_range)."""

    autoencoder: AutoencoderKL
    unet: UNet2DConditionModel
    clip: CLIPBundle
    latent_range: tuple[torch.Tensor, torch.Tensor] | None = None

    def sample(
        self,
        prompt: str,
        n: int,
        guidance: float,
        num_steps: int,
        generator: torch.Generator,
        sampler: str = "ddim",
        bf16: bool = False,
    ) -> Iterator[DiffusionStep]:
        """Yields every reverse step in latent space (x_t and x0_hat are latents; decode them to look).
        bf16: the U-Net under bf16 autocast."""
        with torch.inference_mode():
            text, empty = encode_text(self.clip, [prompt]), encode_text(self.clip, [""])
        eps_model = guided_noise(self.unet, text, empty, guidance, bf16, unconditional=not prompt)
        return samplers.sample(
            eps_model,
            (n, *LATENT_SHAPE),
            sampler,
            num_steps,
            generator,
            on=self.unet.device,
            x0_range=self.latent_range,
        )


@dataclass(frozen=True)
class TracedStep:
    """A reverse step with what CLIP makes of it, when the step was measured: the decoded guess D(ẑ_0 / s) and,
    averaged over the images, its cosine similarity to the prompt and to class_prompt(name) for each of the ten
    classes. Steps between measured ones carry only the diffusion step (x0_image and the similarities None)."""

    diffusion: DiffusionStep
    x0_image: torch.Tensor | None  # (n, 1, 28, 28) in [0, 1]
    prompt_similarity: float | None  # None without a prompt, or when not measured
    class_similarities: tuple[float, ...] | None  # in CLASS_PROMPT_NAMES order
    x_t_image: torch.Tensor | None = None  # D(z_t / s) in [0, 1], when the measurement was asked for it

    @property
    def step(self) -> int:
        return self.diffusion.step

    @property
    def total(self) -> int:
        return self.diffusion.total

    @property
    def measured(self) -> bool:
        return self.class_similarities is not None


class PromptTracer:
    """CLIP's view of a text-to-image run (see trace_prompt): the prompt's and the ten class prompts' embeddings,
    computed once; measure() a step from any thread (it changes nothing it holds)."""

    def __init__(self, model: LatentDiffusion, prompt: str, bf16: bool = False):
        self.model = model
        self.prompt = prompt
        self.decode = in_precision(lambda z: decode(model.autoencoder, z), bf16)
        texts = [class_prompt(name) for name in CLASS_PROMPT_NAMES] + ([prompt] if prompt else [])
        with torch.inference_mode():
            self.text_embeddings = model.clip.embed_texts(texts)

    def measure(self, item: DiffusionStep, with_x_t: bool = False) -> TracedStep:
        """Decode the guess ẑ_0 (and z_t with it, in the same decoder call, when with_x_t) and compare it with
        the prompts."""
        with torch.inference_mode():
            latents = torch.cat([item.x0_hat, item.x_t]) if with_x_t else item.x0_hat
            decoded = self.decode(latents).float().clamp(0.0, 1.0)
            images, x_t_image = decoded.split(len(item.x0_hat)) if with_x_t else (decoded, None)
            embeddings = self.model.clip.embed_images(images)
            similarity = cosine_similarities(embeddings, self.text_embeddings).mean(dim=0).tolist()
        return TracedStep(
            item,
            images,
            similarity[-1] if self.prompt else None,
            tuple(similarity[: len(CLASS_PROMPT_NAMES)]),
            x_t_image,
        )


def trace_prompt(
    model: LatentDiffusion, run: Iterator[DiffusionStep], prompt: str, bf16: bool = False, every: int = 1
) -> Iterator[TracedStep]:
    """Follow a text-to-image run with CLIP: at the first step, every `every`-th and the last, decode the model's
    guess ẑ_0 and measure cos(f(D(ẑ_0)), g(prompt)), the image-text similarity CLIP was trained on. Early guesses
    are blurry averages that match every prompt about equally; the step where the prompt's curve pulls away from the
    other classes' is where the text takes hold of the image. A measurement (a decode and CLIP's image encoder) costs
    about as much as a guided U-Net step, hence `every`."""
    if every < 1:
        raise ValueError(f"every must be at least 1, not {every}")
    tracer = PromptTracer(model, prompt, bf16)
    for item in run:
        if on_stride(item.step, item.total, every):
            yield tracer.measure(item)
        else:
            yield TracedStep(item, None, None, None)


def pad_context(context: TextContext, other: TextContext) -> TextContext:
    """Pad the token axis to the longer of two contexts (masked positions), so both batch together."""
    length = max(context.states.shape[1], other.states.shape[1])
    extra = length - context.states.shape[1]
    if extra == 0:
        return context
    return TextContext(F.pad(context.states, (0, 0, 0, extra)), F.pad(context.mask, (0, extra)))


QUIET_DIFFUSERS_LOAD = {"low_cpu_mem_usage": False}  # without `accelerate` diffusers says it falls back to this anyway
AUTOENCODER_CHECKPOINT, DENOISER_CHECKPOINT = LDM_AUTOENCODER_CHECKPOINT, LDM_DENOISER_CHECKPOINT  # core/catalog.py


def load_autoencoder() -> AutoencoderKL:
    from diffusers import AutoencoderKL

    return MODELS.get(
        AUTOENCODER_CHECKPOINT, lambda: load_model(AutoencoderKL, AUTOENCODER_CHECKPOINT, **QUIET_DIFFUSERS_LOAD)
    )


def load() -> LatentDiffusion:
    """The bundled latent diffusion model: autoencoder + CLIP text encoder + conditional U-Net, cached."""
    from diffusers import UNet2DConditionModel

    unet = MODELS.get(
        DENOISER_CHECKPOINT, lambda: load_model(UNet2DConditionModel, DENOISER_CHECKPOINT, **QUIET_DIFFUSERS_LOAD)
    )
    return LatentDiffusion(load_autoencoder(), unet, load_bundle(), shipped_latent_range())


def shipped_latent_range() -> tuple[torch.Tensor, torch.Tensor] | None:
    """The latent range from the denoiser's card (its recipe measures the training latents), or None without it."""
    try:
        metrics = read_card(DENOISER_CHECKPOINT)["metrics"]
        return latent_range(metrics["latent_channel_mean"], metrics["latent_channel_std"])
    except (CheckpointError, KeyError):
        return None
