"""The page in headless Chromium (Debian's package, driven by Playwright): what a student would click."""

from __future__ import annotations

import os
import re

import pytest

from benchmarks.browser import CHROMIUM_FLAGS, open_tab
from tests.conftest import require_chromium

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")  # set it to keep the screenshots for a look


@pytest.fixture(scope="module")
def page(server_url):
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server_url, wait_until="domcontentloaded")
        open_tab(page, "Autoencoders")
        yield page
        browser.close()


def shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=True)


def reconstruction_images(page):
    return page.locator("#ae-reconstructions img")


def test_picking_an_example_shows_every_reconstruction(page):
    page.locator("#ae-examples button.thumbnail-item").nth(1).click()  # the trouser
    images = reconstruction_images(page)
    images.nth(7).wait_for(state="visible", timeout=30_000)
    assert images.count() == 8
    assert page.get_by_text("Linear AE vs PCA").is_visible()
    shot(page, "autoencoders_example.png")


def test_denoise_panel_shows_images_and_psnr(page):
    page.get_by_text("Salt and pepper").click()
    page.get_by_role("button", name="Add noise and denoise").click()
    page.locator("#ae-denoised img").wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => (document.querySelector('#ae-psnr')?.innerText || '').includes('conv AE trained on clean images')",
        timeout=30_000,
    )
    assert "noisy input" in page.locator("#ae-psnr").inner_text()
    page.wait_for_function("() => !document.querySelector('.progress-text, .eta-bar')", timeout=30_000)
    shot(page, "autoencoders_denoise.png")


def test_drawing_goes_through_the_models(page):
    open_tab(page, "Draw")  # no tool to pick: the page chooses the brush when a sketchpad shows
    page.wait_for_function(
        "() => document.querySelector('button[aria-label=\"Brush\"][data-chosen]') !== null", timeout=10_000
    )
    assert page.get_by_text("select the draw tool to start").count() == 0
    canvas = page.locator("canvas").first
    canvas.wait_for(state="visible", timeout=10_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 11):  # a trouser-like pair of strokes
        page.mouse.move(x0, y0 + i * box["height"] * 0.06)
    page.mouse.up()
    page.mouse.move(x0 + box["width"] * 0.16, y0)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x0 + box["width"] * 0.16, y0 + i * box["height"] * 0.06)
    page.mouse.up()
    before = page.evaluate("() => document.querySelector('#ae-reconstructions img')?.src ?? null")
    page.get_by_role("button", name="Use drawing").click()
    page.wait_for_function(
        "(before) => { const img = document.querySelector('#ae-reconstructions img'); return img && img.src !== before; }",
        arg=before,
        timeout=30_000,
    )
    shot(page, "autoencoders_drawing.png")


def test_opening_the_bases_accordion_shows_both_bases(page):
    page.get_by_text("What the linear AE learned").click()
    page.locator("#ae-pca-basis img").wait_for(state="visible", timeout=30_000)
    page.locator("#ae-linear-basis img").wait_for(state="visible", timeout=30_000)
    page.get_by_text("principal angles between the two subspaces").wait_for(timeout=30_000)
    shot(page, "autoencoders_bases.png")


def test_vae_latent_map_click_decodes_a_point(page):
    open_tab(page, "VAE")
    latent_map = page.locator("#vae-map img")
    latent_map.wait_for(state="visible", timeout=30_000)
    latent_map.scroll_into_view_if_needed()
    box = latent_map.bounding_box()  # viewport coordinates: the map must be on screen to be clicked
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    page.locator("#vae-decoded-point img").wait_for(state="visible", timeout=30_000)
    page.get_by_text("z = (").wait_for(timeout=30_000)
    shot(page, "vae_explorer.png")


def test_vae_example_reconstructs_at_each_size_and_arithmetic_shows_its_strip(page):
    open_tab(page, "VAE")
    page.locator("#vae-examples button.thumbnail-item").nth(5).click()  # the sandal
    page.get_by_role("button", name="Reconstruct", exact=True).click()
    reconstructions = page.locator("#vae-reconstructions img")
    reconstructions.nth(3).wait_for(state="visible", timeout=30_000)
    assert reconstructions.count() == 4  # input, 2-D, 5-D, 20-D
    strip = page.locator("#vae-arithmetic")
    strip.scroll_into_view_if_needed()
    images = strip.locator("img")
    images.nth(3).wait_for(state="visible", timeout=30_000)  # a, b, c and a + (b - c), filled when the tab opened
    # the gallery's images load lazily, once on screen: wait until all four have pixels
    page.wait_for_function(
        """() => { const images = [...document.querySelectorAll('#vae-arithmetic img')];
        return images.length === 4 && images.every(image => image.complete && image.naturalWidth > 0); }""",
        timeout=30_000,
    )
    shot(page, "vae_arithmetic.png")


def test_gan_tab_opens_with_samples_and_d_scores(page):
    open_tab(page, "GAN", exact=True)
    page.locator("#gan-samples img").wait_for(state="visible", timeout=30_000)
    page.get_by_text("mean D on real test images").wait_for(timeout=30_000)
    shot(page, "gan.png")


def test_toy_gan_trains_and_streams_in_the_page(page):
    open_tab(page, "GAN live")
    page.get_by_role("button", name="Train", exact=True).click()
    page.locator("#toy-gan-frame img").wait_for(state="visible", timeout=30_000)
    page.get_by_text("Modes covered:").wait_for(timeout=30_000)
    page.wait_for_function("() => document.body.innerText.includes('Step 2000 of 2000')", timeout=120_000)
    shot(page, "toy_gan.png")


def test_stylegan_and_conditional_tabs_open_filled(page):
    open_tab(page, "StyleGAN")
    page.locator("#stylegan-mixing img").wait_for(state="visible", timeout=60_000)
    page.get_by_text("from w:").wait_for(timeout=30_000)
    shot(page, "stylegan.png")
    open_tab(page, "cGAN")
    page.locator("#cgan-samples img").wait_for(state="visible", timeout=30_000)
    shot(page, "cgan.png")


def test_clip_tab_scores_an_example(page):
    open_tab(page, "CLIP")
    page.locator("#clip-matrix img").wait_for(state="attached", timeout=60_000)
    page.locator("#clip-matrix").scroll_into_view_if_needed()  # below the first screen: its <img> loads lazily
    page.locator("#clip-matrix img").wait_for(state="visible", timeout=30_000)
    page.mouse.wheel(0, -5000)
    page.locator("#clip-examples button.thumbnail-item").nth(7).click()  # the sneaker
    page.get_by_text("Learned scale exp(t)").wait_for(timeout=30_000)
    page.locator("#clip-confusion").scroll_into_view_if_needed()  # its <img> loads lazily, once on screen
    page.locator("#clip-confusion img").wait_for(state="visible", timeout=30_000)
    shot(page, "clip.png")


def test_diffusion_tab_noises_and_denoises(page):
    open_tab(page, "Diffusion", exact=True)
    page.get_by_text("ᾱ_t = ").first.wait_for(timeout=30_000)
    page.get_by_role("tab", name="Reverse: denoising", exact=True).click()
    page.get_by_text("The tab's default run").wait_for(timeout=120_000)  # a real run as the reverse process opens
    page.get_by_role("button", name="Denoise from x_T").click()
    status = "() => document.querySelector('#diffusion-status').textContent"
    page.wait_for_function(f"() => ({status})().includes('step 20 of 20')", timeout=120_000)  # this run's end
    page.locator("#diffusion-x-t img").wait_for(state="visible", timeout=30_000)
    page.get_by_text("Replay the run's steps").wait_for(timeout=30_000)
    shot(page, "diffusion.png")
    page.get_by_role("button", name="▶ Play the steps").click()  # plays the run from its first step
    page.wait_for_function(f"() => ({status})().includes('Replay: step 5 of 20')", timeout=30_000)
    page.get_by_role("button", name="❚❚ Pause").click()
    page.wait_for_timeout(500)
    paused = page.evaluate(status)
    page.wait_for_timeout(1000)  # about 8 steps' worth
    assert "Replay: step" in paused and page.evaluate(status) == paused


def test_latent_diffusion_tab_draws_the_prompt(page):
    open_tab(page, "Latent diffusion")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("() => document.body.innerText.includes('step 20 of 20')", timeout=120_000)
    page.locator("#ldm-decoded img").wait_for(state="visible", timeout=30_000)
    page.locator("#ldm-clip-curve .vega-embed").wait_for(state="visible", timeout=30_000)  # CLIP's curve, drawn
    shot(page, "latent_diffusion.png")


OVERVIEW_DIFFUSION_ROW = "() => document.querySelector('#overview-row-3 label')?.textContent ?? ''"  # its label


def test_overview_tab_moves_when_the_diffusion_steps_change(page):
    open_tab(page, "Overview")
    page.locator("#overview-chart img").wait_for(state="visible", timeout=120_000)
    page.wait_for_function(f"() => ({OVERVIEW_DIFFUSION_ROW})().includes('ms per image')", timeout=60_000)
    before, chart_before = (
        page.evaluate(OVERVIEW_DIFFUSION_ROW),
        page.locator("#overview-chart img").get_attribute("src"),
    )
    assert "DPM-Solver++ 20" in before
    page.locator("#overview-steps input").click()
    page.get_by_role("option", name="DDIM 50").click()
    page.wait_for_function(f"() => ({OVERVIEW_DIFFUSION_ROW})().includes('DDIM 50')", timeout=60_000)
    after = page.evaluate(OVERVIEW_DIFFUSION_ROW)

    def ms(label):
        return float(re.search(r"([0-9.]+) ms per image", label).group(1))

    assert ms(after) > ms(before)  # 50 network calls against 20: slower
    assert page.locator("#overview-chart img").get_attribute("src") != chart_before  # the triangle was redrawn
    assert "Fastest:" in page.locator("#overview-claims").text_content()
    shot(page, "overview.png")


def test_pix2pix_tab_translates_a_picked_drawing_and_compares(page):
    open_tab(page, "pix2pix")
    page.locator("#pix2pix-comparison img").wait_for(state="visible", timeout=60_000)  # filled when the tab opens
    open_tab(page, "Drawings")
    page.locator("#pix2pix-drawings button.thumbnail-item").nth(2).click()
    page.locator("#pix2pix-photo img").wait_for(state="visible", timeout=30_000)
    page.get_by_text("Read as drawing").wait_for(timeout=30_000)
    shot(page, "pix2pix.png")


def test_unpaired_tab_translates_a_held_out_shoe(page):
    open_tab(page, "CycleGAN")
    page.locator("#unpaired-grid img").wait_for(state="visible", timeout=60_000)
    page.locator("#unpaired-examples button.thumbnail-item").nth(9).click()  # an ankle boot
    page.locator("#unpaired-error img").wait_for(state="visible", timeout=30_000)
    page.get_by_text("Cycle error: mean").wait_for(timeout=30_000)
    shot(page, "unpaired.png")


def test_pix2pix_emoji_model_draws_in_colour(page):
    open_tab(page, "pix2pix")
    open_tab(page, "Drawings")
    page.get_by_text("Emoji (Noto Color Emoji").click()
    page.wait_for_function("() => document.body.innerText.includes('smiley')", timeout=30_000)  # galleries refreshed
    before = page.evaluate("() => document.querySelector('#pix2pix-photo img')?.src ?? null")
    page.locator("#pix2pix-drawings button.thumbnail-item").first.click()  # the smiley
    page.wait_for_function(
        "(before) => { const img = document.querySelector('#pix2pix-photo img'); return img && img.src !== before; }",
        arg=before,
        timeout=30_000,
    )
    page.get_by_text("Colourfulness").wait_for(timeout=30_000)
    shot(page, "pix2pix_emoji.png")
