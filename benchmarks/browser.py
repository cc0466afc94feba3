"""The page in headless Chromium (Debian's package, driven by Playwright): the user's time from a click to the
final image on screen, and the helpers the browser tests share."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


# Each tab's main view. tab id -> (inner tab to click first or None, main button's name or "#element id", main
# output's element id, samples per row of the main output at the defaults or None). tests/test_layout.py checks
# where they sit; the benchmark times how long each takes to show when its tab first opens.
MAIN = {
    "autoencoder": (None, "Reconstruct", "ae-reconstructions", None),
    "divergence": (None, "Compute", "div-numbers", None),
    "vae": (None, "Reconstruct", "vae-reconstructions", None),
    "gan": (None, "Sample", "gan-samples", 8),
    "toy_gan": (None, "Train", "toy-gan-frame", None),
    "stylegan": (None, "Sample", "stylegan-samples", 8),
    "cgan": (None, "Sample", "cgan-samples", 8),
    "pix2pix": (None, "Translate the drawing", "pix2pix-photo", None),
    "unpaired": (None, "#unpaired-examples", "unpaired-translated", None),
    "diffusion": ("Reverse: denoising", "Denoise from x_T", "diffusion-x-t", 4),
    "clip": (None, "Score", "clip-probabilities", None),
    "latent_diffusion": (None, "Generate", "ldm-decoded", 4),
    "overview": (None, "Sample every family", "overview-row-0", None),
}
SHOWS_TEXT = {"clip": "%", "divergence": "KL"}  # the text tabs' main output, once filled (the rest show a picture)
SHOWS_A_PICTURE = """(id) => { const box = document.getElementById(id);
    const image = box && box.querySelector('img');
    return image !== null && image.complete && image.naturalWidth > 0; }"""
SHOWS_THE_TEXT = """([id, text]) => (document.getElementById(id)?.textContent ?? '').includes(text)"""


def wait_for_main_output(page, tab_id: str, timeout_ms: float) -> None:
    """Until the tab's main output shows its picture (or, for a text tab, its result)."""
    output = MAIN[tab_id][2]
    if tab_id in SHOWS_TEXT:
        page.wait_for_function(SHOWS_THE_TEXT, arg=[output, SHOWS_TEXT[tab_id]], timeout=timeout_ms, polling=20)
    else:
        page.wait_for_function(SHOWS_A_PICTURE, arg=output, timeout=timeout_ms, polling=20)


PAGE_READY = """() => document.querySelector('button[role="tab"][aria-selected="true"]') !== null"""


def first_open_seconds(url: str, titles: dict[str, str], passes: int = 2) -> dict[str, list[float]]:
    """Each tab's first open in a fresh page (after the server's warm-up), `passes` times: seconds from clicking
    its tab (and its inner tab) to its main output on screen. titles: tab id -> the tab's title; the first is the
    landing tab, timed from the page being ready (its tab bar drawn) to its result; "page" is the address being
    entered to the tab bar drawn."""
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {"page": []} | {tab_id: [] for tab_id in titles}
    landing = next(iter(titles))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        for _ in range(passes):
            for tab_id, title in titles.items():
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                start = time.perf_counter()
                page.goto(url, wait_until="domcontentloaded")
                page.wait_for_function(PAGE_READY, timeout=60_000, polling=20)
                ready = time.perf_counter()
                if tab_id == landing:
                    times["page"].append(round(ready - start, 2))
                else:
                    wait_for_main_output(page, landing, 60_000)
                    ready = time.perf_counter()
                    open_tab(page, title, exact=True)
                    if MAIN[tab_id][0]:
                        page.get_by_role("tab", name=MAIN[tab_id][0], exact=True).click()
                wait_for_main_output(page, tab_id, 60_000)
                times[tab_id].append(round(time.perf_counter() - ready, 2))
                page.close()
        browser.close()
    return times


def landing_after_start(start_app, starts: int) -> list[tuple[float, float]]:
    """`starts` times: start_app() (a started app, with .url, .cold_start_s and .close()) and open its page at once,
    as a lecturer who starts the app and opens it does: (process start -> first page served, process start -> the
    landing tab's result on screen), in seconds. The landing tab's result waits for torch and its model, which the
    background warm-up loads after the page is up."""
    from playwright.sync_api import sync_playwright

    times = []
    landing = next(iter(MAIN))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        for _ in range(starts):
            served = start_app()
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(served.url, wait_until="domcontentloaded")
                wait_for_main_output(page, landing, 120_000)
                times.append((served.cold_start_s, round(time.perf_counter() - served.started, 2)))
                page.close()
            finally:
                served.close()
        browser.close()
    return times


RUN_FINISHED = """([status, doneText, image, before]) => {
    const text = document.querySelector(status)?.textContent ?? "";
    const picture = document.querySelector(image);
    return text.includes(doneText) && picture && picture.src !== before && picture.complete
        && picture.naturalWidth > 0; }"""


def click_to_final_image(
    page, button: str, status: str, done_text: str, final_image: str, timeout_s: float = 120
) -> float:
    """Seconds from clicking `button` until the element at `status` says `done_text` and the image at
    `final_image` is a new, loaded one (the run's seed must differ from the last run's, or the picture need not
    change). Checked every 20 ms through textContent, which costs the page nothing: the page's text read with
    innerText forces a layout of the whole page each time, and polled at every animation frame ("raf") the page
    renders 60 frames a second; both cost headless Chromium CPU on the cores the server computes with (measured:
    the run 0.1-0.3 s slower)."""
    before = page.evaluate(f"() => document.querySelector('{final_image}')?.src ?? null")
    start = time.perf_counter()
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_function(
        RUN_FINISHED, arg=[status, done_text, final_image, before], timeout=timeout_s * 1000, polling=20
    )
    return time.perf_counter() - start


@dataclass(frozen=True)
class SamplerRun:
    """A sampler tab's run as a user clicks it: the tab (and inner tab), the sampler and step count chosen (None:
    the tab's defaults), the seed box, the button; done when `status` says `done_text` and `final_image` is new."""

    name: str
    tab: str
    exact: bool  # the tab's name matched exactly
    inner: str | None
    sampler: str | None
    steps: int | None
    seed_label: str
    button: str
    status: str
    final_image: str

    @property
    def done_text(self) -> str:
        steps = self.steps or 20
        return f"step {steps} of {steps}"

    def choose(self, page) -> None:
        """Pick the sampler (a radio button) and the step count (the "Steps" dropdown: opened, its option clicked;
        typing the number and Enter did not always take)."""
        from playwright.sync_api import expect

        if self.sampler:
            page.get_by_label(self.sampler, exact=True).check()
        if self.steps:
            steps = page.get_by_label("Steps", exact=True)
            steps.click()
            page.get_by_role("option", name=str(self.steps), exact=True).click()
            expect(steps).to_have_value(str(self.steps), timeout=5_000)


LDM = {  # the Latent diffusion tab's controls and outputs
    "tab": "Latent diffusion",
    "exact": False,
    "inner": None,
    "seed_label": "Seed of z_T",
    "button": "Generate",
    "status": "#ldm-status",
    "final_image": "#ldm-decoded img",
}
SAMPLER_RUNS = (
    SamplerRun("Latent diffusion, 4 images, DPM-Solver++ 20 (the tab's default)", **LDM, sampler=None, steps=None),
    SamplerRun("Latent diffusion, 4 images, DDIM 50", **LDM, sampler="DDIM", steps=50),
    SamplerRun(
        "Diffusion, 8 images, DPM-Solver++ 20 (the tab's default)",
        "Diffusion",
        True,
        "Reverse: denoising",
        None,
        None,
        "Seed of x_T",
        "Denoise from x_T",
        "#diffusion-status",
        "#diffusion-x-t img",
    ),
)


def sampler_click_to_final(url: str, runs: int = 3) -> dict[str, list[float]]:
    """Each of SAMPLER_RUNS clicked `runs` times with new seeds after one warm-up click: seconds each."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    times: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url, wait_until="domcontentloaded")
        for run in SAMPLER_RUNS:
            open_tab(page, run.tab, exact=run.exact)
            if run.inner:
                page.get_by_role("tab", name=run.inner, exact=True).click()
            run.choose(page)
            seed = page.get_by_label(run.seed_label)
            times[run.name] = []
            for i in range(runs + 1):  # the first is a warm-up
                seed.fill(str(100 + i))
                try:
                    seconds = click_to_final_image(page, run.button, run.status, run.done_text, run.final_image)
                except Exception as error:
                    status = page.locator(run.status).text_content()
                    raise RuntimeError(f"{run.name}, click {i}: {error}; the status says {status!r}") from error
                if i:
                    times[run.name].append(round(seconds, 2))
        browser.close()
    return times
