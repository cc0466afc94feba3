"""The app through gradio_client on a locally launched server: the documented API names and their answers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from core.datasets import load_sample
from demos.render import COLOUR_BAR_PX


@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


@pytest.fixture(scope="module")
def garment_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "garment.png"
    Image.fromarray(load_sample().images[5]).save(path)
    return str(path)


def test_api_names_are_the_documented_ones(client):
    endpoints = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {
        "/ae_reconstruct",
        "/ae_denoise",
        "/ae_linear_bases",
        "/divergence",
        "/vae_reconstruct",
        "/vae_decode",
        "/vae_sample",
        "/vae_interpolate",
        "/vae_arithmetic",
        "/gan_sample",
        "/gan_interpolate",
        "/cgan_sample",
        "/stylegan_sample",
        "/stylegan_interpolate",
        "/toy_gan_train",
        "/clip_score",
        "/clip_zero_shot",
        "/diffusion_forward",
        "/diffusion_sample",
        "/text_to_image",
        "/pix2pix",
        "/translate",
    } <= endpoints
    assert not any("refresh" in name or "pick" in name for name in endpoints)  # UI glue stays private


def test_ae_reconstruct_over_http(client, garment_png):
    gallery, table, note = client.predict(handle_file(garment_png), api_name="/ae_reconstruct")
    assert len(gallery) == 8 and all(item["image"].endswith(".png") for item in gallery)
    assert Image.open(gallery[1]["image"]).size == (224, 224)
    assert table["headers"][0] == "Method" and len(table["data"]) == 7
    assert "Linear AE vs PCA" in note


def test_ae_denoise_over_http(client, garment_png):
    noisy, denoised, plain, clean, table = client.predict(
        handle_file(garment_png), "salt_and_pepper", 0.3, 5, api_name="/ae_denoise"
    )
    assert all(Image.open(path).size == (224, 224) for path in (noisy, denoised, plain, clean))
    scores = {row[0]: row[1] for row in table["data"]}
    assert scores["denoising AE"] > scores["noisy input"]


@pytest.mark.parametrize(
    "args,message",
    [
        (("gaussian", 5, 0), '"Level" must be a number from 0 to 1, not 5'),
        (("speckle", 0.5, 0), "speckle"),
        (("gaussian", 0.5, -3), '"Seed" must be a whole number from 0 to'),
    ],
)
def test_out_of_range_api_values_get_a_message_and_the_server_survives(client, garment_png, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(handle_file(garment_png), *args, api_name="/ae_denoise")
    assert client.predict(handle_file(garment_png), "gaussian", 0.2, 0, api_name="/ae_denoise")


def test_transparent_image_through_the_api_gets_a_message(client, tmp_path):
    path = tmp_path / "blank.png"
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(path)
    with pytest.raises(Exception, match="transparent"):
        client.predict(handle_file(str(path)), api_name="/ae_reconstruct")


def test_divergence_over_http(client):
    numbers, _per_outcome, _bars, _kl_bars, _note = client.predict(
        "0.36, 0.48, 0.16", "1, 1, 1", api_name="/divergence"
    )
    values = {row[0]: row[1] for row in numbers["data"]}
    assert values["KL(p‖q)"] == 0.0853 and values["KL(q‖p)"] == 0.0975


def test_divergence_bad_input_over_http(client):
    with pytest.raises(Exception, match="negative"):
        client.predict("0.5, -0.1, 0.6", "1, 1, 1", api_name="/divergence")


def test_vae_endpoints_over_http(client, garment_png):
    gallery, rows = client.predict(handle_file(garment_png), api_name="/vae_reconstruct")
    assert len(gallery) == 4 and len(rows["data"]) == 3
    assert Image.open(client.predict(2, "0.5, -0.5", api_name="/vae_decode")).size == (224, 224)
    grid = Image.open(client.predict(20, 7, 16, 0.8, api_name="/vae_sample"))
    assert grid.size == (8 * 29 * 3 + 3, 2 * 29 * 3 + 3)
    linear, spherical = client.predict(
        20, handle_file(garment_png), handle_file(garment_png), 5, api_name="/vae_interpolate"
    )
    assert Image.open(linear).size == Image.open(spherical).size
    strip, neighbours, verdict = client.predict(
        20, "mean: Sneaker", "mean: Ankle boot", "mean: Sandal", api_name="/vae_arithmetic"
    )
    assert len(strip) == 4 and len(neighbours) == 5 and verdict["label"]


def test_vae_decode_rejects_a_wrong_sized_code_over_http(client):
    with pytest.raises(Exception, match="needs 5 numbers"):
        client.predict(5, "1, 2", api_name="/vae_decode")


def test_gan_samples_over_http(client):
    grid = Image.open(client.predict(0, 16, api_name="/gan_sample"))
    conditional = Image.open(client.predict("Bag", 0, 16, api_name="/cgan_sample"))
    styled = Image.open(client.predict(0, 16, 0.7, api_name="/stylegan_sample"))
    assert styled.size == grid.size and grid.size[0] > grid.size[1]  # 16 as 8 columns x 2 rows
    assert conditional.size[0] > conditional.size[1]  # one class: 16 in rows of 8, under the class's name


def test_stylegan_interpolation_over_http(client):
    in_z, in_w = client.predict(1, 2, 8, api_name="/stylegan_interpolate")
    assert Image.open(in_z).size == Image.open(in_w).size


def test_toy_gan_streams_frames_over_http(client):
    job = client.submit("ring", "non_saturating", 200, 1, 128, 1e-3, 1e-3, 2, 0, None, api_name="/toy_gan_train")
    job.result(timeout=120)
    outputs = job.outputs()
    steps = [int(re.search(r"Step (\d+) of 200", summary).group(1)) for _, summary, _ in outputs]
    # step 0, the last, and frames between: every 10 steps at this length, none sooner than 0.1 s after the last
    # (a 200-step run takes 0.2-0.7 s on 2 cores)
    assert len(steps) >= 3 and steps[0] == 0 and steps[-1] == 200 and steps == sorted(set(steps)), steps


def test_toy_gan_bad_values_over_http_get_a_message(client):
    with pytest.raises(Exception, match='"Generator steps" must be a whole number from 50 to 5,000'):
        client.predict("ring", "minimax", 10**7, 1, 128, 1e-3, 1e-3, 2, 0, None, api_name="/toy_gan_train")


def test_clip_score_over_http(client, garment_png):
    label, table, note = client.predict(
        handle_file(garment_png), "a photo of a coat\na photo of a bag", api_name="/clip_score"
    )
    assert {c["label"] for c in label["confidences"]} == {"a photo of a coat", "a photo of a bag"}
    assert len(table["data"]) == 2 and "temperature" in note


def test_clip_zero_shot_over_http(client):
    summary, confusion = client.predict("a photo of a {}", api_name="/clip_zero_shot")
    assert "Zero-shot accuracy" in summary and Image.open(confusion).size[0] > 300


def test_diffusion_forward_over_http(client, garment_png):
    closed, stepped, _strip, text, _chart = client.predict(
        handle_file(garment_png), 300, 0, api_name="/diffusion_forward"
    )
    assert Image.open(closed).size == Image.open(stepped).size
    assert "t = 300" in text


def test_diffusion_sample_streams_steps_over_http(client):
    job = client.submit(0, "DDIM", 20, 1, api_name="/diffusion_sample")
    job.result(timeout=120)
    outputs = job.outputs()
    assert "step 20 of 20" in outputs[-1][2]
    x_t, final = (np.asarray(Image.open(outputs[-1][k])) for k in (0, 3))
    assert np.array_equal(final, x_t)  # the final grid is the last step's x_0


def test_text_to_image_streams_over_http_and_rejects_bad_values(client):
    job = client.submit("a photo of a bag", 4.0, 10, 0, 1, "DPM-Solver++", api_name="/text_to_image")
    job.result(timeout=120)
    assert "step 10 of 10" in job.outputs()[-1][4]
    with pytest.raises(Exception, match='"Guidance scale w" must be a number from 0 to 15'):
        client.predict("a bag", 99.0, 10, 0, 1, "DDIM", api_name="/text_to_image")
    assert client.predict("a bag", 4.0, 2, 0, 1, "DDIM", api_name="/text_to_image")  # the server survived


def test_pix2pix_and_translate_over_http(client, garment_png):
    edges, photo, blurry, verdict, note = client.predict(
        handle_file(garment_png), "fashion", "picture", api_name="/pix2pix"
    )
    assert all(Image.open(path).size == (252, 252) for path in (edges, photo, blurry))  # 28 px x 9
    assert Image.open(verdict).size == (252, 252 + COLOUR_BAR_PX)  # with its legend
    assert "SSIM" in note
    with pytest.raises(Exception, match='"Model" must be one of fashion, emoji'):
        client.predict(handle_file(garment_png), "cats", "auto", api_name="/pix2pix")
    _translated, _cycled, error, note = client.predict(handle_file(garment_png), "v->u", api_name="/translate")
    assert Image.open(error).size == (224, 224 + COLOUR_BAR_PX) and "Cycle error" in note  # with its legend
    with pytest.raises(Exception, match='"Direction" must be one of u->v, v->u'):
        client.predict(handle_file(garment_png), "up", api_name="/translate")


def test_the_readme_names_every_public_endpoint(server_url):
    """README's tab table is the short list of API names: none may go missing from it."""
    import json
    import urllib.request
    from pathlib import Path

    with urllib.request.urlopen(f"{server_url}gradio_api/info", timeout=30) as response:
        named = json.load(response)["named_endpoints"]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [name for name in named if f"`{name}`" not in readme]
    assert len(named) >= 20 and not missing, missing
