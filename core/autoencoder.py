"""Autoencoders, as the lecture builds them up: linear (784 -> 32 -> 784), deep (ReLU MLP), convolutional
(Conv-ReLU-MaxPool encoder, Conv-ReLU-Upsampling decoder) and denoising (the conv AE trained on noisy inputs).

Every model maps x -> z = encoder(x) -> x_hat = decoder(z) and is trained to minimise ||x - x_hat||^2.
PCA with k components is the optimal *linear* code of size k; a linear autoencoder learns the same subspace.
"""

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from PIL import Image
from torch import nn

from core.blocks import mlp
from core.checkpoints import load_model
from core.datasets import IMAGE_SIZE
from core.metrics import mse, psnr
from core.runtime import MODELS, model_device, on_model_device

PIXELS = IMAGE_SIZE * IMAGE_SIZE
LATENT_BYTES_PER_VALUE = 2  # latents are stored as float16: the reconstruction shown is decoded from them


class Autoencoder(nn.Module):
    """x (B, 1, 28, 28) in [0, 1] -> z = encode(x) -> x_hat = decode(z). Subclasses define both halves."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def latent_numel(self) -> int:
        """How many numbers the code of one image holds."""
        with torch.no_grad():
            return self.encode(torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE, device=model_device(self))).numel()

    @torch.inference_mode()
    @on_model_device
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Encode, store the code as float16 (the bytes the compression ratio counts), decode, clip to [0, 1]."""
        z = self.encode(x).to(torch.float16).float()
        return self.decode(z).clamp(0, 1)


@dataclass(frozen=True)
class LinearAEConfig:
    latent_dim: int = 32  # the lecture's "smaller domain (e.g., 32)"


class LinearAutoencoder(Autoencoder, PyTorchModelHubMixin):
    """Flatten, z = W_e x + b_e (784 -> 32), x_hat = W_d z + b_d (32 -> 784). No activation anywhere."""

    def __init__(self, config: LinearAEConfig = LinearAEConfig()):
        super().__init__()
        self.config = config
        self.encoder = nn.Linear(PIXELS, config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim, PIXELS)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))  # (B, 784) -> (B, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)


@dataclass(frozen=True)
class PCAConfig:
    components: int = 32  # the same code size as the linear autoencoder


class PCA(Autoencoder, PyTorchModelHubMixin):
    """z = U_k^T (x - mu), x_hat = mu + U_k z: the best rank-k linear reconstruction in squared error.

    Fitted in closed form (`fit`), not by gradient descent; stored like the other models.
    """

    def __init__(self, config: PCAConfig = PCAConfig()):
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.zeros(PIXELS))
        self.register_buffer("components", torch.zeros(PIXELS, config.components))  # U_k, orthonormal columns
        self.register_buffer("explained_variance", torch.zeros(config.components))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> "PCA":
        """Top-k eigenvectors of the pixel covariance of x (N, 1, 28, 28)."""
        flat = x.flatten(1).double()
        self.mean.copy_(flat.mean(dim=0))
        centred = flat - flat.mean(dim=0)
        covariance = centred.T @ centred / (len(flat) - 1)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
        top = eigenvalues.argsort(descending=True)[: self.config.components]
        self.components.copy_(eigenvectors[:, top].float())
        self.explained_variance.copy_(eigenvalues[top].float())
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) @ self.components  # (B, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (self.mean + z @ self.components.T).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)


@dataclass(frozen=True)
class DeepAEConfig:
    hidden: tuple[int, ...] = (256, 128)  # encoder widths; the decoder mirrors them
    latent_dim: int = 32  # same code size as the linear AE, so the two compare at equal compression


class DeepAutoencoder(Autoencoder, PyTorchModelHubMixin):
    """784 -> 256 -> 128 -> 32 -> 128 -> 256 -> 784 with ReLU between layers and a sigmoid on the output."""

    def __init__(self, config: DeepAEConfig = DeepAEConfig()):
        super().__init__()
        self.config = config
        widths = (PIXELS, *config.hidden, config.latent_dim)
        self.encoder = mlp(widths)
        self.decoder = mlp(widths[::-1])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z)).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)


@dataclass(frozen=True)
class ConvAEConfig:
    channels: tuple[int, ...] = (32, 64)  # Conv-ReLU-MaxPool stages: 28 -> 14 -> 7
    latent_channels: int = 8  # channels of the code
    pool_latent: bool = True  # one more max-pool, 7 -> 4: a (8, 4, 4) code of 128 numbers, as in the Keras blog


class ConvAutoencoder(Autoencoder, PyTorchModelHubMixin):
    """Encoder: [Conv-ReLU-MaxPool] per stage, then a Conv to the code (and a MaxPool when pool_latent).
    Decoder: [Conv-ReLU-Upsample] back through the same sizes, then a Conv and a sigmoid."""

    def __init__(self, config: ConvAEConfig = ConvAEConfig()):
        super().__init__()
        self.config = config
        sizes = [IMAGE_SIZE]
        for _ in config.channels:
            sizes.append(math.ceil(sizes[-1] / 2))
        self.stage_sizes = sizes  # e.g. [28, 14, 7]
        encoder: list[nn.Module] = []
        c_in = 1
        for c_out in config.channels:
            encoder += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True)]
            c_in = c_out
        encoder.append(nn.Conv2d(c_in, config.latent_channels, 3, padding=1))
        if config.pool_latent:
            encoder.append(nn.MaxPool2d(2, ceil_mode=True))
        self.encoder = nn.Sequential(*encoder)

        self.decoder_stages = nn.ModuleList()
        c_in = config.latent_channels
        widths = list(config.channels[::-1])  # e.g. [64, 32]
        if config.pool_latent:  # undo the extra pool first: 4 -> 7
            self.decoder_stages.append(nn.Conv2d(c_in, widths[0], 3, padding=1))
            c_in = widths[0]
        for c_out in widths:
            self.decoder_stages.append(nn.Conv2d(c_in, c_out, 3, padding=1))
            c_in = c_out
        self.output = nn.Conv2d(c_in, 1, 3, padding=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, 1, 28, 28) -> (B, latent_channels, 4, 4) or (B, latent_channels, 7, 7)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        targets = self.stage_sizes[::-1][1:]  # e.g. [14, 28]
        if self.config.pool_latent:
            targets = [self.stage_sizes[-1]] + targets  # e.g. [7, 14, 28]
        h = z
        for conv, size in zip(self.decoder_stages, targets):
            h = F.interpolate(F.relu(conv(h)), size=(size, size), mode="nearest")  # Conv-ReLU-Upsampling
        return torch.sigmoid(self.output(h))  # (B, 1, 28, 28)


# --- noise for the denoising autoencoder ---------------------------------------------------------------------

NOISE_TYPES = ("gaussian", "salt_and_pepper", "masking")


def add_noise(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt images in [0, 1]; the result stays in [0, 1].

    gaussian:        x + level * eps, eps ~ N(0, I), clipped   (level = sigma)
    salt_and_pepper: each pixel, with probability level, set to 0 or 1 (half each)
    masking:         each pixel, with probability level, set to 0 (Vincent et al. 2008)
    """
    if kind not in NOISE_TYPES:
        raise ValueError(f"Unknown noise type {kind!r}; choose one of {', '.join(NOISE_TYPES)}.")
    if not 0.0 <= float(level) <= 1.0:
        raise ValueError(f"The noise level must lie in [0, 1], not {level}.")
    if kind == "gaussian":
        eps = torch.randn(x.shape, generator=generator)
        return (x + level * eps).clamp(0, 1)
    hit = torch.rand(x.shape, generator=generator) < level
    if kind == "masking":
        return torch.where(hit, torch.zeros_like(x), x)
    salt = torch.rand(x.shape, generator=generator) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


def random_noise(x: torch.Tensor, generator: torch.Generator, max_levels: dict[str, float]) -> torch.Tensor:
    """Each image gets a random noise type and a level uniform in [0, max_levels[type]] (denoiser training).

    The same corruptions as `add_noise`, drawn per image in one vectorised pass.
    """
    b = len(x)
    kinds = torch.randint(0, len(NOISE_TYPES), (b,), generator=generator)
    caps = torch.tensor([max_levels[kind] for kind in NOISE_TYPES])
    levels = (torch.rand(b, generator=generator) * caps[kinds]).view(b, 1, 1, 1)
    gaussian = (x + levels * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    hit = torch.rand(x.shape, generator=generator) < levels
    salt = (torch.rand(x.shape, generator=generator) < 0.5).to(x.dtype)
    salt_and_pepper = torch.where(hit, salt, x)
    masking = torch.where(hit, torch.zeros_like(x), x)
    choice = kinds.view(b, 1, 1, 1)
    return torch.where(choice == 0, gaussian, torch.where(choice == 1, salt_and_pepper, masking))


# --- compression: latent bytes, and JPEG at a similar budget ------------------------------------------------


def compression_ratio(latent_numel: int) -> float:
    """Pixel bytes (784, one byte each) over code bytes (float16 numbers)."""
    return PIXELS / (latent_numel * LATENT_BYTES_PER_VALUE)


def jpeg_payload_bytes(data: bytes) -> int:
    """Bytes of entropy-coded image data: after the start-of-scan header, before the end-of-image marker.

    The rest of a JPEG file (quantisation and Huffman tables, headers) is fixed overhead, like an
    autoencoder's decoder weights; at 28x28 it outweighs the image data, so both numbers are reported.
    """
    sos = data.find(b"\xff\xda")
    if sos < 0:
        raise ValueError("not a baseline JPEG: no start-of-scan marker")
    header_length = int.from_bytes(data[sos + 2 : sos + 4], "big")
    end = data.rfind(b"\xff\xd9")
    return end - (sos + 2 + header_length)


@dataclass(frozen=True)
class JpegResult:
    image: torch.Tensor  # (1, 1, H, W) decoded, in [0, 1]
    quality: int
    file_bytes: int
    payload_bytes: int


def jpeg_at_budget(x: torch.Tensor, budget_bytes: int) -> JpegResult:
    """The highest JPEG quality whose image data (payload) fits the budget; quality 1 if none fits."""
    pixels = (x.squeeze().clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels, mode="L")
    best = None
    for quality in range(1, 96):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
        data = buffer.getvalue()
        payload = jpeg_payload_bytes(data)
        if best is None or payload <= budget_bytes:
            best = (quality, data, payload)
        if payload > budget_bytes:
            break
    quality, data, payload = best
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32) / 255.0
    return JpegResult(torch.from_numpy(decoded).view(1, 1, *decoded.shape), quality, len(data), payload)


def subspace_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosines of the principal angles between the column spaces of a (D, k) and b (D, k), descending.

    All ones: the same subspace. Used to show that a linear AE's decoder spans PCA's subspace.
    """
    qa, _ = torch.linalg.qr(a.double())
    qb, _ = torch.linalg.qr(b.double())
    return torch.linalg.svdvals(qa.T @ qb).clamp(max=1.0)


def linear_bases(pca: "PCA", linear: LinearAutoencoder) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 32 images each linear code multiplies: PCA's components U_k and the linear AE's decoder columns W_d,
    as (k, 1, 28, 28), and the cosines of the principal angles between their spans (all near 1: same subspace).

    PCA's are ordered and orthonormal; the AE's are an arbitrary basis of (nearly) the same subspace, which is
    why they look mixed although they reconstruct just as well.
    """
    u = pca.components.detach()  # (784, k)
    w = linear.decoder.weight.detach()  # (784, k)
    return (
        u.T.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE),
        w.T.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE),
        subspace_similarity(w, u),
    )


MODEL_CLASSES = {
    "pca": PCA,
    "ae_linear": LinearAutoencoder,
    "ae_deep": DeepAutoencoder,
    "ae_conv": ConvAutoencoder,
    "ae_denoising": ConvAutoencoder,
}


# --- the bundled models and their reconstructions, measured -------------------------------------------------


def load(name: str) -> Autoencoder:
    """A bundled model by checkpoint name, loaded once (raises CheckpointError naming the rebuild command)."""
    return MODELS.get(name, lambda: load_model(MODEL_CLASSES[name], name))


@dataclass(frozen=True)
class Reconstruction:
    name: str
    image: torch.Tensor  # (1, 1, 28, 28) in [0, 1]
    mse: float
    psnr_db: float
    code_shape: tuple[int, ...] | None  # e.g. (32,) or (8, 4, 4); None for JPEG
    code_bytes: int  # float16 code, or JPEG image data (payload)
    file_bytes: int | None  # JPEG only: the whole file, tables and headers included

    @property
    def compression_ratio(self) -> float:
        return PIXELS / self.code_bytes


@torch.inference_mode()
def reconstruct_with(name: str, model: Autoencoder, x: torch.Tensor) -> Reconstruction:
    """x (1, 1, 28, 28) -> the model's reconstruction and its error."""
    x_hat = model.reconstruct(x)
    code_shape = tuple(model.encode(x.to(model_device(model))).shape[1:])
    return Reconstruction(
        name,
        x_hat,
        mse(x_hat, x).item(),
        psnr(x_hat, x).item(),
        code_shape,
        math.prod(code_shape) * LATENT_BYTES_PER_VALUE,
        None,
    )


def reconstruct_with_jpeg(x: torch.Tensor, budget_bytes: int) -> Reconstruction:
    result = jpeg_at_budget(x, budget_bytes)
    return Reconstruction(
        f"JPEG ≤{budget_bytes} B (q={result.quality})",
        result.image,
        mse(result.image, x).item(),
        psnr(result.image, x).item(),
        None,
        result.payload_bytes,
        result.file_bytes,
    )
