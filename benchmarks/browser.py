"""The page in headless Chromium (Debian's package, driven by Playwright): the user's time from a click to the
final image on screen, and the helpers the browser tests share."""
from __future__ import annotations

import re
import shutil
import time

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def open_tab(page, name: str, exact: bool = False) -> None:
    """Click a tab, through the tab bar's "More tabs" menu when the row is too narrow to show it."""
    tab = page.get_by_role("tab", name=name, exact=exact)
    if tab.count() == 0 or not tab.first.is_visible():
        more = page.get_by_role("button", name="More tabs")
        if more.count() and more.first.is_visible():
            more.first.click()
            label = re.compile(f"^{re.escape(name)}$") if exact else name
            page.locator(".overflow-dropdown button", has_text=label).first.click()
            return
    tab.first.click()


IMAGE_CHANGED = """([selector, before]) => { const image = document.querySelector(selector);
    return image && image.src !== before && image.complete && image.naturalWidth > 0; }"""


def click_to_final_image(page, button: str, final_image: str, done_text: str, timeout_s: float = 120) -> float:
    """Seconds from clicking `button` until `done_text` shows again and the image at `final_image` is a new,
    loaded one (the run's seed must differ from the last run's, or the picture need not change)."""
    before = page.evaluate(f"() => document.querySelector('{final_image}')?.src ?? null")
    start = time.perf_counter()
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_function(f"() => !document.body.innerText.includes({done_text!r})", timeout=timeout_s * 1000,
                           polling=10)
    page.wait_for_function(f"() => document.body.innerText.includes({done_text!r})", timeout=timeout_s * 1000,
                           polling=10)
    page.wait_for_function(IMAGE_CHANGED, arg=[final_image, before], timeout=timeout_s * 1000, polling=10)
    return time.perf_counter() - start


SAMPLER_RUNS = (  # (name, tab, exact tab name, inner tab or None, seed label, button, the image that shows the last
    # step, the status text of the last step)
    ("Latent diffusion, 4 images, DDIM 50 (the tab's default)", "Latent diffusion", False, None, "Seed of z_T",
     "Generate", "#ldm-decoded img", "step 50 of 50"),
    ("Diffusion, 8 images, DDIM 50 (the tab's default)", "Diffusion", True, "Reverse: denoising", "Seed of x_T",
     "Denoise from x_T", "#diffusion-x-t img", "step 50 of 50"),
)


def sampler_click_to_final(url: str, runs: int = 3) -> dict[str, list[float]]:
    """Each sampler tab's default run, clicked `runs` times with new seeds after one warm-up click: seconds each."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    times: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url, wait_until="domcontentloaded")
        for name, tab, exact, inner, seed_label, button, final_image, done_text in SAMPLER_RUNS:
            open_tab(page, tab, exact=exact)
            if inner:
                page.get_by_role("tab", name=inner, exact=True).click()
            seed = page.get_by_label(seed_label)
            times[name] = []
            for run in range(runs + 1):  # the first is a warm-up
                seed.fill(str(100 + run))
                seconds = click_to_final_image(page, button, final_image, done_text)
                if run:
                    times[name].append(round(seconds, 2))
        browser.close()
    return times
