"""Evaluation: a Fashion-MNIST classifier whose penultimate features give a Frechet distance (FD) and whose
predictions give class consistency and a confusion matrix; PSNR for reconstructions; a ranking AUC for scores.

FD(r, g) = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)), as FID, but on features of a classifier
trained on this data set (Inception features mean little on 28x28 garments).
"""

from dataclasses import dataclass

import numpy as np
import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.checkpoints import CheckpointError, load_model
from core.datasets import FASHION_CLASSES
from core.runtime import MODELS, model_device, on_cpu, on_model_device


@dataclass(frozen=True)
class ClassifierConfig:
    channels: tuple[int, int] = (32, 64)  # two conv blocks (conv-BN-ReLU x2, max-pool), 28 -> 14 -> 7
    feature_dim: int = 128  # penultimate width: the features the Frechet distance is computed on
    num_classes: int = 10
    dropout: float = 0.3


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class EvalClassifier(nn.Module, PyTorchModelHubMixin):
    """A small VGG-style classifier for 28x28 Fashion-MNIST; `features` is the penultimate layer."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.body = nn.Sequential(_conv_block(1, c1), _conv_block(c1, c2))  # (B, c2, 7, 7)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(config.dropout),
            nn.Linear(c2 * 7 * 7, config.feature_dim),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.feature_dim, config.num_classes))

    @on_model_device
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) in [0, 1] -> (B, feature_dim)."""
        return self.head(self.body(x * 2 - 1))

    @on_model_device
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) in [0, 1] -> (B, num_classes) logits."""
        return self.classifier(self.features(x))


def load_classifier() -> "EvalClassifier":
    """The bundled evaluation classifier, loaded once (raises CheckpointError naming the rebuild command)."""
    return MODELS.get("classifier", lambda: load_model(EvalClassifier, "classifier"))


def classifier_if_trained() -> "EvalClassifier | None":
    """The evaluation classifier, or None where its checkpoint is missing (recipes then skip classifier metrics)."""
    try:
        return load_classifier()
    except CheckpointError:
        return None


@torch.inference_mode()
def classifier_outputs(
    model: EvalClassifier, images: torch.Tensor, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, D) and predicted labels (N,) of images (N, 1, 28, 28) in [0, 1]."""
    model.eval()
    features, predictions = [], []
    for chunk in images.split(batch_size):
        f = model.features(chunk.float().to(model_device(model)))
        features.append(on_cpu(f))
        predictions.append(on_cpu(model.classifier(f).argmax(dim=1)))
    return torch.cat(features), torch.cat(predictions)


def top_classes(model: EvalClassifier, images: torch.Tensor) -> list[tuple[str, float]]:
    """The classifier's most likely class and its softmax probability for each image."""
    with torch.inference_mode():
        top = torch.softmax(model(images), dim=1).max(dim=1)
    return [(FASHION_CLASSES[i], p) for i, p in zip(top.indices.tolist(), top.values.tolist())]


BLOB_BELOW = 0.5  # a sample the classifier gives no class even an even chance: a blob, not a garment


def unreadable_share(
    model: EvalClassifier, images: torch.Tensor, below: float = BLOB_BELOW, batch_size: int = 500
) -> float:
    """The share of images whose most likely class has a softmax probability under `below` (blobs)."""
    with torch.inference_mode():
        top = torch.cat(
            [on_cpu(torch.softmax(model(chunk.float()), dim=1).max(dim=1).values) for chunk in images.split(batch_size)]
        )
    return round((top < below).float().mean().item(), 4)


def accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    return (predictions == labels).float().mean().item()


def confusion_matrix(
    labels: torch.Tensor, predictions: torch.Tensor, num_classes: int = len(FASHION_CLASSES)
) -> torch.Tensor:
    """C[i, j] = the number of items of true class i predicted as class j: (num_classes, num_classes), int64.
    Rows sum to each class's count; the diagonal holds the correct predictions."""
    pairs = labels.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(pairs, minlength=num_classes * num_classes).view(num_classes, num_classes)


def ranking_auc(positive_scores: torch.Tensor, negative_scores: torch.Tensor) -> float:
    """The area under the ROC curve as a ranking: the chance that a random positive item scores above a random
    negative one, ties counting half (the Mann-Whitney U statistic over n_pos · n_neg pairs). 0.5: the scores cannot
    tell the two apart; 1: every positive above every negative."""
    positive, negative = positive_scores.flatten().double(), negative_scores.flatten().double().sort().values
    below = torch.searchsorted(negative, positive, right=False)  # negatives strictly below each positive
    tied = torch.searchsorted(negative, positive, right=True) - below
    return ((below + 0.5 * tied).sum() / (len(positive) * len(negative))).item()


def frechet_distance(features_a: np.ndarray | torch.Tensor, features_b: np.ndarray | torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two feature sets.

    Tr((S_a S_b)^(1/2)) = Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): the sum of square roots of the eigenvalues of a
    symmetric PSD matrix, which stays real and stable where a general matrix square root does not.
    """
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(sigma_a)
    sqrt_a = (eigenvectors * np.sqrt(eigenvalues.clip(min=0))) @ eigenvectors.T
    trace_sqrt = np.sqrt(np.linalg.eigvalsh(sqrt_a @ sigma_b @ sqrt_a).clip(min=0)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_sqrt)


def class_histogram(predictions: torch.Tensor, num_classes: int = len(FASHION_CLASSES)) -> dict[str, float]:
    """Share of samples the classifier assigns to each class (mode coverage of a generator)."""
    counts = torch.bincount(predictions.long(), minlength=num_classes).float()
    shares = counts / counts.sum().clamp(min=1)
    return {name: round(share.item(), 4) for name, share in zip(FASHION_CLASSES, shares)}


def class_consistency(predictions: torch.Tensor, requested: torch.Tensor) -> float:
    """Fraction of conditional samples that the classifier assigns to the class they were asked for."""
    return accuracy(predictions, requested)


def class_consistency_by_class(predictions: torch.Tensor, requested: torch.Tensor) -> dict[str, float]:
    """class_consistency within each requested class, by class name (4 decimals)."""
    return {
        name: round(class_consistency(predictions[requested == c], requested[requested == c]), 4)
        for c, name in enumerate(FASHION_CLASSES)
    }


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error of (B, C, H, W) images -> (B,)."""
    return ((x.float() - y.float()) ** 2).flatten(1).mean(dim=1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image peak signal-to-noise ratio, 10 log10(range^2 / MSE), in dB -> (B,). Capped at 100 dB."""
    error = mse(x, y).clamp(min=data_range**2 * 1e-10)
    return 10 * torch.log10(data_range**2 / error)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image structural similarity (Wang et al. 2004; scikit-image, 7 x 7 windows) of (B, C, H, W) images -> (B,).

    1 for identical images; it compares local means, contrasts and correlations, so blur costs more than in L1.
    """
    from skimage.metrics import structural_similarity

    a, b = x.detach().float().cpu().numpy(), y.detach().float().cpu().numpy()
    return torch.tensor([structural_similarity(p, q, data_range=data_range, channel_axis=0) for p, q in zip(a, b)])


def neighbour_difference(images: torch.Tensor) -> torch.Tensor:
    """Per image of (B, C, H, W): the mean absolute difference between neighbouring pixels, across and down."""
    x = images.float()
    across = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    down = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    return (across + down) / 2


def sharpness(images: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels of (B, C, H, W) images: crisp detail scores high,
    blur low (how the app and the benchmark compare L1-only pix2pix with L1 + cGAN against real pictures)."""
    return neighbour_difference(images).mean().item()


def colourfulness(images: torch.Tensor, white: float = 0.9) -> float:
    """Mean saturation (largest minus smallest of R, G, B) of the object pixels (those not near white) of
    (B, 3, H, W) images: an L1-trained model that averages uncertain colours scores low (dull, brownish)."""
    saturation = images.max(dim=1).values - images.min(dim=1).values  # (B, H, W)
    objects = (images < white).any(dim=1)
    return saturation[objects].mean().item() if objects.any() else 0.0


def roughness(images: torch.Tensor) -> torch.Tensor:
    """Per image (n, 1, H, W) in [0, 1]: the mean absolute difference between neighbouring pixels (across and down)
    divided by the image's mean ink. Speckle and garbled texture raise it; smooth shapes and plain areas keep it low,
    and dividing by the ink keeps a small garment from looking smooth only because it is small."""
    return neighbour_difference(images) / images.float().flatten(1).mean(1).clamp_min(1e-3)


def roughness_limit(real_images: torch.Tensor, quantile: float = 0.99) -> float:
    """The roughness that `quantile` of real images stay under: above it, a sample counts as speckled."""
    return torch.quantile(roughness(real_images), quantile).item()


def speckled_share(images: torch.Tensor, limit: float) -> float:
    """The share of images rougher than `limit` (see roughness_limit)."""
    return round((roughness(images) > limit).float().mean().item(), 4)
