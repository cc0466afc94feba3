"""Recipes `vae_2`, `vae_5`, `vae_20`: VAEs with the lecture's three latent sizes.

    python -m core.train vae_20     # about 12 minutes on 2 CPU cores
"""
from dataclasses import dataclass

import torch

from core import runtime
from core.checkpoints import save_model
from core.metrics import class_histogram, classifier_if_trained, classifier_outputs, frechet_distance
from core.train.common import Stopwatch, make_card, minibatches, output_root, progress, start_recipe, fashion_mnist
from core.latent import sample_prior
from core.vae import LATENT_SIZES, VAE, VAEConfig, checkpoint_name, elbo_terms, save_map_codes

SAMPLES_FOR_METRICS = 1000


@dataclass(frozen=True)
class TrainConfig:
    latent_dim: int = 20  # 2, 5 or 20 in the lecture
    epochs: int = 60
    batch_size: int = 128
    lr: float = 1e-3  # Adam
    kl_warmup_epochs: int = 10  # the KL weight beta rises linearly 0 -> 1 over these epochs, then stays 1 (0: off);
    # measured with the earlier Bernoulli decoder on the 20-D model: a better ELBO and more active dimensions
    seed: int = 0
    bf16: str = "off"  # MLPs this small gain nothing from bf16 here; fp32 keeps the nats exact
    dry_run: bool = False  # two steps on the bundled sample; writes to a temporary folder


DEFAULTS = {d: TrainConfig(latent_dim=d) for d in LATENT_SIZES}


@torch.inference_mode()
def evaluate(model: VAE, x: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
    """Mean per-image terms of the negative ELBO on x, in nats (one z sample per image), and the MSE of
    reconstructions decoded from the mean code."""
    reconstruction, kl, squared_error = 0.0, 0.0, 0.0
    for chunk in x.split(1000):
        terms = elbo_terms(model, chunk, generator)
        reconstruction += terms.reconstruction.sum().item()
        kl += terms.kl.sum().item()
        squared_error += ((model.decode(model.encode(chunk)[0]) - chunk) ** 2).flatten(1).mean(1).sum().item()
    n = len(x)
    return {"reconstruction_nats": round(reconstruction / n, 3), "kl_nats": round(kl / n, 3),
            "negative_elbo_nats": round((reconstruction + kl) / n, 3), "mse": round(squared_error / n, 6)}


@torch.inference_mode()
def active_dimensions(model: VAE, x: torch.Tensor) -> int:
    """Latent dimensions the model uses: those whose mean code mu_j varies over the data with variance > 0.01
    (Burda et al. 2016's "active units"); the others sit at the prior, and the KL term keeps them there."""
    return int((model.encode(x)[0].var(dim=0) > 0.01).sum())


@torch.inference_mode()
def sample_quality(model: VAE, test_x: torch.Tensor, generator: torch.Generator) -> dict:
    """Frechet distance of prior samples to the test set (evaluation-classifier features) and class coverage."""
    classifier = classifier_if_trained()
    if classifier is None:
        return {}
    samples = model.decode(sample_prior(SAMPLES_FOR_METRICS, model.config.latent_dim, generator))
    sample_features, predictions = classifier_outputs(classifier, samples)
    test_features, _ = classifier_outputs(classifier, test_x)
    shares = class_histogram(predictions)
    return {"fd_prior_samples_vs_test": round(frechet_distance(sample_features, test_features), 3),
            "min_class_share_of_samples": min(shares.values()), "class_shares_of_samples": shares}


def main(cfg: TrainConfig) -> dict:
    recipe = checkpoint_name(cfg.latent_dim)
    generator, device, bf16 = start_recipe(cfg)
    train_x, _, test_x, test_y = fashion_mnist(cfg.dry_run)
    model = VAE(VAEConfig(latent_dim=cfg.latent_dim)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps_per_epoch = 2 if cfg.dry_run else len(train_x) // cfg.batch_size
    epochs = 1 if cfg.dry_run else cfg.epochs
    curves = {k: [] for k in ("train_reconstruction_nats", "train_kl_nats", "test_reconstruction_nats", "test_kl_nats")}
    clock, step = Stopwatch(), 0
    bar = progress(epochs * steps_per_epoch, recipe)
    for epoch in range(epochs):
        model.train()
        sums = torch.zeros(2)
        for index in minibatches(len(train_x), cfg.batch_size, generator, steps_per_epoch):
            with runtime.autocast(bf16, device):
                terms = elbo_terms(model, train_x[index].to(device), generator)
            progress_in_epochs = epoch + (step % steps_per_epoch) / steps_per_epoch
            beta = min(1.0, progress_in_epochs / cfg.kl_warmup_epochs) if cfg.kl_warmup_epochs else 1.0
            # reconstruction + beta * KL per image, in nats; beta = 1 (the ELBO) after the warm-up
            loss = (terms.reconstruction + beta * terms.kl).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            sums += torch.tensor([terms.reconstruction.mean().item(), terms.kl.mean().item()])
            bar.update(1)
            bar.set_postfix(elbo=f"{-terms.negative_elbo.mean().item():.1f}", kl=f"{terms.kl.mean().item():.1f}",
                            refresh=False)
        model.eval()
        test = evaluate(model, test_x, generator)
        curves["train_reconstruction_nats"].append(round(sums[0].item() / steps_per_epoch, 3))
        curves["train_kl_nats"].append(round(sums[1].item() / steps_per_epoch, 3))
        curves["test_reconstruction_nats"].append(test["reconstruction_nats"])
        curves["test_kl_nats"].append(test["kl_nats"])
    bar.close()

    # Shipped as float16 (the wider model is 10.6 MB in float32): measure the rounded weights that ship.
    model = model.cpu().eval().half().float()
    metrics = {f"test_{k}": v for k, v in evaluate(model, test_x, generator).items()}
    metrics["decoder_noise_level_s"] = round(model.noise_level, 5)
    metrics["active_latent_dimensions"] = active_dimensions(model, test_x)
    metrics |= sample_quality(model, test_x, generator)
    metrics["weights_stored_as"] = "float16"
    if cfg.latent_dim == 2:
        metrics["map_codes_of_test_images"] = len(test_x)  # written beside the weights, see save_map_codes
    card = make_card(
        recipe, cfg, defaults=DEFAULTS.get(cfg.latent_dim, TrainConfig()),
        data="Fashion-MNIST train (60,000); metrics on the full test set (10,000)" if not cfg.dry_run
        else "dry run: 64 bundled-sample images",
        steps=step, clock=clock, device=device, bf16=bf16, metrics=metrics, curves=curves,
    )
    folder = save_model(model, recipe, card, output_root(cfg.dry_run), storage_dtype=torch.float16)
    if cfg.latent_dim == 2:  # the tab's latent map: every test image's mean code, not only the bundled sample's
        save_map_codes(model, test_x, test_y, folder)
    print(f"{recipe}: {metrics}; wrote {folder}")
    return card
