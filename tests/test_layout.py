"""The page on a projector (1400x900) and on a phone (390x844), in headless Chromium: every tab opened by its deep
link shows a real result at once, its main control and main picture on the first screen, no label over a picture;
presenter mode has large text and samples; on a phone nothing scrolls sideways and the title row stays short."""

from __future__ import annotations

import pytest

from benchmarks.browser import CHROMIUM_FLAGS, MAIN, SHOWS_A_PICTURE, SHOWS_TEXT, SHOWS_THE_TEXT, wait_for_main_output
from demos.presets import PRESETS
from tests.conftest import require_chromium

PROJECTOR = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
# Dropdowns on screen whose value is wider than their box (a phone cut "DPM-Solver++ 20" to "DPM-Solver+").
CUT_DROPDOWNS = """() => [...document.querySelectorAll('input[role=combobox]')]
    .filter(i => i.offsetParent != null && i.scrollWidth > i.clientWidth + 1).map(i => i.value)"""
OPEN_TIMEOUT_MS = 90_000  # a first open computes the tab's result; the CI machine may be slow
# Gradio's label badge sits in a block's top-left corner; it must not cover the block's picture.
LABEL_OVERLAPS = """() => {
  const overlaps = [];
  const visible = (el) => el.offsetParent !== null && el.getBoundingClientRect().width > 0;
  for (const block of document.querySelectorAll('.block')) {
    if (!visible(block)) continue;
    const label = block.querySelector(':scope > label, :scope > .block-label, :scope > div > label[data-testid="block-label"]');
    const images = [...block.querySelectorAll('img')].filter(visible);
    if (!label || !visible(label)) continue;
    const a = label.getBoundingClientRect();
    for (const image of images) {
      const b = image.getBoundingClientRect();
      const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (x > 2 && y > 2) overlaps.push((block.id || block.className) + ': ' + label.textContent.trim());
    }
  }
  return overlaps;
}"""


# The picture is drawn with object-fit contain or scale-down (Gradio's default: never above its own pixels), so its
# element's box can be larger than what shows: the drawn scale is the smaller of the two ratios of box to picture,
# and at most 1 for scale-down.
RENDERED_SAMPLE_PX = """([id, perRow]) => { const image = document.querySelector('#' + id + ' img');
    const box = image.getBoundingClientRect();
    let scale = Math.min(box.width / image.naturalWidth, box.height / image.naturalHeight);
    if (getComputedStyle(image).objectFit === 'scale-down') scale = Math.min(scale, 1);
    return image.naturalWidth * scale / perRow; }"""
# The drawn picture's bottom edge (object-position top: the picture starts at its box's top).
DRAWN_BOTTOM_PX = """(id) => { const image = document.querySelector('#' + id + ' img');
    const box = image.getBoundingClientRect();
    const scale = Math.min(box.width / image.naturalWidth, box.height / image.naturalHeight);
    return box.top + image.naturalHeight * scale; }"""
PRESENTER_FIRST_SCREEN = ("gan", "stylegan", "cgan", "latent_diffusion")  # their grids also end on the first screen


@pytest.fixture(scope="module")
def browser():
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_page(browser, url: str, viewport: dict):
    page = browser.new_page(viewport=viewport)
    page.goto(url, wait_until="domcontentloaded")
    return page


def selected_tab(page) -> str | None:
    return page.evaluate("""() => { const b = [...document.querySelectorAll('button[role="tab"][aria-selected="true"]')]
        .find((b) => b.dataset.tabId && b.offsetParent !== null); return b ? b.dataset.tabId : null; }""")


@pytest.mark.parametrize("tab_id", list(MAIN))
def test_each_tab_opens_from_its_link_with_its_main_control_and_a_real_result_on_the_first_screen(
    browser, server_url, tab_id
):
    inner, button, output, _ = MAIN[tab_id]
    page = open_page(browser, f"{server_url}?tab={tab_id}", PROJECTOR)
    try:
        page.wait_for_function(
            f'() => document.querySelector(\'button[role="tab"][data-tab-id="{tab_id}"]'
            '[aria-selected="true"]\') !== null',
            timeout=30_000,
        )
        if inner:
            page.get_by_role("tab", name=inner, exact=True).click()
        wait_for_main_output(page, tab_id, OPEN_TIMEOUT_MS)  # a text result grows its box: measure it once there
        assert page.evaluate("() => window.scrollY") == 0
        control = (
            page.locator(button) if button.startswith("#") else page.get_by_role("button", name=button, exact=True)
        ).first
        button_box = control.bounding_box()
        output_box = page.locator(f"#{output}").bounding_box()
        assert button_box and button_box["y"] + button_box["height"] <= PROJECTOR["height"], (button, button_box)
        assert output_box and output_box["y"] + output_box["height"] <= PROJECTOR["height"], (output, output_box)
        assert page.evaluate(LABEL_OVERLAPS) == []
        assert page.evaluate(CUT_DROPDOWNS) == []
    finally:
        page.close()


@pytest.mark.parametrize("tab_id", [t for t, main in MAIN.items() if main[3]])
def test_presenter_mode_has_large_text_and_samples(browser, server_url, tab_id):
    inner, _, output, per_row = MAIN[tab_id]
    page = open_page(browser, f"{server_url}?tab={tab_id}&presenter=1", PROJECTOR)
    try:
        page.wait_for_function("() => document.body.classList.contains('presenter')", timeout=30_000)
        if inner:
            page.get_by_role("tab", name=inner, exact=True).click()
        wait_for_main_output(page, tab_id, OPEN_TIMEOUT_MS)
        font_px = page.evaluate("""() => Math.min(...[...document.querySelectorAll('.tab-lead p')]
            .filter((p) => p.offsetParent !== null).map((p) => parseFloat(getComputedStyle(p).fontSize)))""")
        assert font_px >= 18
        page.wait_for_timeout(700)  # the page script fits the grids to the screen (at most every 0.5 s)
        sample_px = page.evaluate(RENDERED_SAMPLE_PX, [output, per_row])
        assert sample_px >= 96, f"{sample_px:.0f} px per sample"
        if tab_id in PRESENTER_FIRST_SCREEN:
            bottom = page.evaluate(DRAWN_BOTTOM_PX, output)
            assert bottom <= PROJECTOR["height"], f"the samples end at {bottom:.0f} px"
        assert page.get_by_label("Presenter mode").is_checked()
    finally:
        page.close()


def test_the_address_follows_the_open_tab_and_presenter_toggle(browser, server_url):
    page = open_page(browser, server_url, PROJECTOR)
    try:
        page.get_by_role("tab", name="StyleGAN", exact=True).click()
        page.wait_for_function("() => window.location.search.includes('tab=stylegan')", timeout=10_000)
        page.get_by_label("Presenter mode").check()
        page.wait_for_function(
            "() => document.body.classList.contains('presenter') && window.location.search.includes('presenter=1')",
            timeout=10_000,
        )
        assert selected_tab(page) == "stylegan"
    finally:
        page.close()


def test_on_a_phone_every_tab_opens_and_nothing_scrolls_sideways(browser, server_url):
    page = open_page(browser, server_url, PHONE)
    try:
        for tab_id in MAIN:
            page.goto(f"{server_url}?tab={tab_id}", wait_until="domcontentloaded")
            page.wait_for_function(
                f"() => document.getElementById('tab-{tab_id}')?.offsetParent != null", timeout=30_000
            )
            assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], tab_id
            assert page.evaluate(CUT_DROPDOWNS) == [], tab_id
        header = page.locator("#page-header").bounding_box()
        assert header["height"] <= 140, header  # the title row leaves the screen to the tab (it took 230 px)
        assert not page.locator("#presenter-toggle").is_visible()
    finally:
        page.close()


@pytest.mark.parametrize("screen", ["phone", "projector"])
def test_a_row_of_samples_sits_in_a_box_that_fits_it(browser, server_url, screen):
    """The text-to-image pictures (a row of four garments, the latent's four channels): the box no taller than the
    picture and its label strip (a fixed 300-px box left white bands above and below); on a phone the picture is as
    wide as its box, on a wider screen at most its own pixels and the box's width."""
    page = open_page(browser, f"{server_url}?tab=latent_diffusion", PHONE if screen == "phone" else PROJECTOR)
    try:
        page.wait_for_function(
            "() => [...document.querySelectorAll('#tab-latent_diffusion .grid-few-rows img')]"
            ".filter((im) => im.naturalWidth > 0).length === 3",
            timeout=60_000,
        )
        boxes = page.locator("#tab-latent_diffusion .grid-few-rows").all()
        assert len(boxes) == 3  # z_t decoded, the guess decoded, the latent's channels
        for box in boxes:
            # the picture as drawn: its element's width times its own aspect ratio (within the element, a fixed
            # box draws it centred, with bands above and below)
            width, natural, drawn = box.locator("img").evaluate(
                "(im) => [im.width, im.naturalWidth, im.width * im.naturalHeight / im.naturalWidth]"
            )
            frame = box.bounding_box()
            assert width <= frame["width"] + 1, (width, frame)
            if screen == "phone":
                assert width >= frame["width"] - 8, (width, frame)
            else:
                assert width <= natural + 1, (width, natural)
            assert frame["height"] <= drawn + 60, (drawn, frame)  # the label strip is 40 px
    finally:
        page.close()


# The value a control shows: a radio's checked choice, else the first input or text box (sliders have two).
CONTROL_VALUE = """(id) => { const box = document.getElementById(id); if (!box) return null;
    const radio = box.querySelector('input[type=radio]:checked'); if (radio) return radio.value;
    const field = box.querySelector('textarea, input'); return field ? field.value : null; }"""


def _same(shown: str | None, wanted) -> bool:
    if shown is None:
        return False
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        try:
            return abs(float(shown) - wanted) < 1e-9
        except ValueError:
            return False
    return shown == str(wanted)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.slug)
def test_each_lecture_preset_opens_its_tab_with_its_example(browser, server_url, preset):
    page = open_page(browser, f"{server_url}?preset={preset.slug}", PROJECTOR)
    try:
        page.wait_for_function(
            f'() => document.querySelector(\'button[role="tab"][data-tab-id="{preset.tab}"]'
            '[aria-selected="true"]\') !== null',
            timeout=30_000,
        )
        for key, value in preset.values.items():  # the page may draw a control's new value a moment later
            for _ in range(100):
                if _same(page.evaluate(CONTROL_VALUE, key), value):
                    break
                page.wait_for_timeout(100)
            assert _same(page.evaluate(CONTROL_VALUE, key), value), (key, page.evaluate(CONTROL_VALUE, key), value)
        if preset.output and preset.tab in SHOWS_TEXT:
            page.wait_for_function(SHOWS_THE_TEXT, arg=[preset.output, SHOWS_TEXT[preset.tab]], timeout=OPEN_TIMEOUT_MS)
        elif preset.output:
            page.wait_for_function(SHOWS_A_PICTURE, arg=preset.output, timeout=OPEN_TIMEOUT_MS)
        if preset.expect:  # the preset's own example ran (not only the tab's opening result)
            page.wait_for_function(
                "(text) => document.body.innerText.includes(text)", arg=preset.expect, timeout=OPEN_TIMEOUT_MS
            )
    finally:
        page.close()
