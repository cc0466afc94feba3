"""The page around the tabs: deep links, presenter mode, and the CSS both modes share.

- `?tab=<tab id>` opens that tab (the ids of app.TABS), by clicking its button as a user would, so the tab's own
  opening event runs; the address follows the open tab, so a lecturer can copy it into a slide.
- `?presenter=1`, or the "Presenter mode" toggle: text of at least 18 px and larger pictures, for a projector.
- Every sketchpad starts with its brush chosen.
"""

from __future__ import annotations

import json

import gradio as gr
from gradio.context import Context

from demos.common import FEW_ROWS_CLASS, GRID_CLASS

MARKER_ID = "preset-applied"  # a hidden box the load event writes a lecture preset's slug into with its controls

PRESENTER_CLASS = "presenter"
PRESENTER_FONT_PX = 20  # body text in presenter mode (the floor is 18 px)
PRESENTER_GRID_MIN_PX, PRESENTER_GRID_MAX_PX = 420, 600  # a sample grid's box in presenter mode, label included
PRESENTER_FEW_ROWS_MIN_PX = 300  # the same for a grid of at most 2 rows (diffusion's panels): 100 px a sample still
LABEL_STRIP_PX = 40  # above a picture, for its label and toolbar
PHONE_MAX_WIDTH_PX = 640  # narrower than this, the page lays itself out for a phone

CSS = f"""
.checkpoint-notice {{ border-left: 4px solid #d97706; padding-left: 0.75em; }}
#ae-reconstructions img {{ image-rendering: pixelated; }}
.tab-lead p {{ margin-top: 0; }}
#page-header {{ align-items: center; }}
#page-title h1 {{ margin: 0 0 0.2em 0; }}
#page-title p {{ margin: 0; }}
#presenter-toggle {{ flex: 0 0 auto; width: auto; }}
/* A picture's label and toolbar on their own line above it, never over it */
.block > label.float + div {{ padding-top: {LABEL_STRIP_PX}px; box-sizing: border-box; }}
.block > label.float + .image-container > .top-panel {{ top: 2px; }}
/* A streaming output keeps Gradio's accent border but not its endless pulse: repainting four pulsing boxes cost
   headless Chromium 0.3 s of CPU per 2-s text-to-image run, on the cores the sampler needs (measured) */
.wrap.generating {{ animation: none !important; }}
/* A phone: the title on one line and no presenter toggle (a projector's setting), so the tab's own controls
   start higher; the title row took 230 px of an 844-px screen */
@media (max-width: {PHONE_MAX_WIDTH_PX}px) {{
  #page-title h1 {{ font-size: 24px; }}
  #presenter-toggle {{ display: none; }}
  /* a short, wide picture fills the screen's width */
  body:not(.{PRESENTER_CLASS}) .{FEW_ROWS_CLASS} img {{ width: 100%; }}
}}
/* A short, wide picture's box fits the picture (at most its own pixels, at most the box's width) outside presenter
   mode, whose script fits boxes to the screen: in a fixed 300-px box a row of four garments was 96 px tall between
   two white bands at 1400x900, 80 px on a phone */
body:not(.{PRESENTER_CLASS}) .{FEW_ROWS_CLASS}, body:not(.{PRESENTER_CLASS}) .{FEW_ROWS_CLASS} .image-container,
body:not(.{PRESENTER_CLASS}) .{FEW_ROWS_CLASS} .image-container > button,
body:not(.{PRESENTER_CLASS}) .{FEW_ROWS_CLASS} .image-frame,
body:not(.{PRESENTER_CLASS}) .{FEW_ROWS_CLASS} img {{ height: auto !important; }}
body.{PRESENTER_CLASS} .gradio-container {{
  --text-xxs: 14px; --text-xs: 16px; --text-sm: 18px; --text-md: {PRESENTER_FONT_PX}px; --text-lg: 22px;
  --text-xl: 26px; --text-xxl: 30px;
  --block-label-text-size: 18px; --block-info-text-size: 18px; --block-title-text-size: 20px;
  --section-header-text-size: 20px; --checkbox-label-text-size: 18px; --input-text-size: {PRESENTER_FONT_PX}px;
  --button-large-text-size: 22px; --button-medium-text-size: 20px; --button-small-text-size: 18px;
  --prose-text-size: {PRESENTER_FONT_PX}px; --body-text-size: {PRESENTER_FONT_PX}px;
  font-size: {PRESENTER_FONT_PX}px;
}}
body.{PRESENTER_CLASS} .prose, body.{PRESENTER_CLASS} .prose * {{ font-size: {PRESENTER_FONT_PX}px; }}
body.{PRESENTER_CLASS} .{GRID_CLASS} {{ height: 600px !important; }}
/* Gradio draws pictures with object-fit: scale-down, never larger than their pixels (a 32-sample grid: 87 px a
   sample); in presenter mode a grid fills its box from the top, and the page script fits the box to the screen */
body.{PRESENTER_CLASS} .{GRID_CLASS} img {{ object-fit: contain !important; object-position: center top; }}
body.{PRESENTER_CLASS} #page-title p {{ display: none; }}
.{FEW_ROWS_CLASS} {{ --presenter-grid-min: {PRESENTER_FEW_ROWS_MIN_PX}; }}
/* thirteen tabs in one row at 1400 px (Gradio pads each tab button 16 px a side) */
.tab-wrapper > .tab-container > button {{ padding-left: 9px; padding-right: 9px; }}  /* and the copy it measures */
body.{PRESENTER_CLASS} .prose h1 {{ font-size: 32px; }}
body.{PRESENTER_CLASS} .prose h2 {{ font-size: 28px; }}
body.{PRESENTER_CLASS} .prose h3 {{ font-size: 24px; }}
"""


def page_js(tabs: list[tuple[str, str]], presets: dict[str, dict] | None = None) -> str:
    """The script the page runs once loaded: deep links, lecture presets and presenter mode (see the module's
    docstring). tabs: (tab id, its title) of the top-level tabs (a narrow tab bar's buttons carry only the title);
    presets: slug -> {"tab", "inner", "press"} (demos/presets.py)."""
    return """
() => {
  const TABS = %s;
  const PRESETS = %s;
  const TAB_IDS = Object.keys(TABS);
  const PRESENTER = "%s";
  const LABEL_STRIP_PX = %d;  // the strip reserved above a picture for its label (CSS below)
  const setParam = (key, value) => {
    const url = new URL(window.location.href);
    if (value === null) url.searchParams.delete(key); else url.searchParams.set(key, value);
    window.history.replaceState(null, "", url);
  };
  window.genmodelsPresenter = (on) => {
    document.body.classList.toggle(PRESENTER, on);
    setParam("presenter", on ? "1" : null);
    setTimeout(() => window.genmodelsFitGrids && window.genmodelsFitGrids(), 50);
  };
  // Gradio's page revisits every component an event has touched at each message a stream sends, snapshotting
  // their values leaf by leaf, each primitive leaf through structuredClone (a serialise and a deserialise): about
  // 1,300 calls per frame here. A primitive's clone is the primitive itself (a symbol, which the real clone refuses,
  // is no value Gradio holds), so it is returned as it is (measured
  // in headless Chromium, DDIM-50 text-to-image: the page's CPU per run 1.10 -> 0.96 s, the run 2.19 -> 2.06 s).
  const clone = window.structuredClone;
  window.structuredClone = (value, options) =>
    value === null || (typeof value !== "object" && typeof value !== "function") ? value : clone(value, options);
  const params = new URLSearchParams(window.location.search);
  if (params.get("presenter") === "1") document.body.classList.add(PRESENTER);
  const tabButton = (id) => [...document.querySelectorAll("button")].find((button) => button.offsetParent !== null
    && !button.closest(".visually-hidden")  // the copy of the tab bar Gradio measures widths with
    && (button.dataset.tabId === id || (button.closest(".tab-wrapper, .tabs, [role=tablist], .overflow-dropdown")
        && !button.closest(".tabitem") && button.textContent.trim() === TABS[id])));
  // A narrow screen keeps some tabs in the tab bar's "More tabs" menu: open it once, then find the button there.
  const openTab = (id, tries, menuOpened) => {
    const button = tabButton(id);
    if (button) { if (button.getAttribute("aria-selected") !== "true") button.click(); return; }
    if (!menuOpened) {
      const more = [...document.querySelectorAll(".overflow-menu button")].find((b) => b.offsetParent !== null);
      if (more) { more.click(); menuOpened = true; }
    }
    if (tries > 0) setTimeout(() => openTab(id, tries - 1, menuOpened), 100);
  };
  const wanted = params.get("tab");
  const preset = PRESETS[params.get("preset")];
  if (preset) runPreset(params.get("preset"), preset);
  else if (wanted && TAB_IDS.includes(wanted)) openTab(wanted, 100, false);
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.closest(".tabitem")) return;  // a button inside a tab's content
    const id = TAB_IDS.includes(button.dataset.tabId) ? button.dataset.tabId
      : TAB_IDS.find((key) => TABS[key] === button.textContent.trim());
    if (id) setParam("tab", id);
  });
  // A lecture preset: once the load event has filled the controls (and written the slug into a hidden marker),
  // open the tab and its sub-tab, and press the preset's button.
  function runPreset(slug, preset) {
    const marker = () => document.querySelector("#%s textarea, #%s input");
    const clickNamed = (name, within) => {
      const button = [...document.querySelectorAll(within)].find((b) => b.offsetParent !== null
        && b.textContent.trim() === name);
      if (button) button.click();
      return Boolean(button);
    };
    const afterTab = (tries) => {
      const open = [...document.querySelectorAll('button[role="tab"][aria-selected="true"]')]
        .some((b) => b.dataset.tabId === preset.tab);
      if (!open) { if (tries > 0) setTimeout(() => afterTab(tries - 1), 100); return; }
      if (preset.inner) clickNamed(preset.inner, '.tabitem button[role="tab"]');
      // Press once the tab's own opening result is in (its outputs are no longer pending): pressed earlier, the
      // opening run could finish after the preset's and cover it.
      const busy = () => [...document.querySelectorAll(".tabitem .pending")].some((el) => el.offsetParent !== null);
      const press = (left) => {
        if ((busy() || !clickNamed(preset.press, ".tabitem button")) && left > 0) setTimeout(() => press(left - 1), 100);
      };
      if (preset.press) setTimeout(() => press(600), 300);
    };
    const start = (tries) => {
      const box = marker();
      if (box && box.value === slug) { openTab(preset.tab, 100, false); afterTab(100); return; }
      if (tries > 0) setTimeout(() => start(tries - 1), 100);
    };
    start(150);
  }
  // A sketchpad opens with no tool chosen ("select the draw tool to start"): choose its brush once it appears, so
  // that a drag on the canvas draws at once instead of after finding a 16-px icon.
  // Looked for at most twice a second after the page's elements change (a tab's content is added when it first
  // opens), not at every streamed frame (with it in place, text-to-image click -> final measured 1.75 s in Chromium).
  let brushTimer = null;
  const chooseBrushes = () => {
    brushTimer = null;
    for (const brush of document.querySelectorAll('button[aria-label="Brush"]:not([data-chosen])')) {
      if (brush.offsetParent === null) continue;  // in a tab not shown yet: chosen when it shows
      brush.dataset.chosen = "1";
      brush.click();
    }
  };
  // Presenter mode: each sample grid on screen gets the height left below its top on the first screen (between
  // GRID_MIN_PX and GRID_MAX_PX), so that the samples are as large as fits and end above the screen's bottom edge.
  const fitGrids = () => {
    const presenting = document.body.classList.contains(PRESENTER);
    for (const grid of document.querySelectorAll(".%s")) {
      if (!presenting) {  // Gradio's own height back
        if (grid.dataset.height !== undefined) { grid.style.height = grid.dataset.height; delete grid.dataset.height; }
        continue;
      }
      if (grid.offsetParent === null) continue;
      if (grid.dataset.height === undefined) grid.dataset.height = grid.style.height;
      const top = grid.getBoundingClientRect().top + window.scrollY;
      const least = parseFloat(getComputedStyle(grid).getPropertyValue("--presenter-grid-min")) || %d;
      let height = Math.max(least, Math.min(%d, window.innerHeight - top - 8));
      const image = grid.querySelector("img");
      if (image && image.naturalWidth) {  // a wide grid needs less: no empty band under it
        const needed = LABEL_STRIP_PX + (grid.clientWidth - 16) * image.naturalHeight / image.naturalWidth;
        height = Math.min(height, Math.ceil(needed) + 8);
      }
      grid.style.setProperty("height", height + "px", "important");
    }
  };
  window.genmodelsFitGrids = fitGrids;
  window.addEventListener("resize", fitGrids);
  document.addEventListener("click", () => setTimeout(fitGrids, 50));
  fitGrids();
  new MutationObserver(() => {
    if (brushTimer === null) brushTimer = setTimeout(() => { chooseBrushes(); fitGrids(); }, 500);
  }).observe(document.body, {childList: true, subtree: true});
}
""" % (
        json.dumps(dict(tabs)),
        json.dumps(presets or {}),
        PRESENTER_CLASS,
        LABEL_STRIP_PX,
        MARKER_ID,
        MARKER_ID,
        GRID_CLASS,
        PRESENTER_GRID_MIN_PX,
        PRESENTER_GRID_MAX_PX,
    )


def header(title: str, subtitle: str) -> gr.Checkbox:
    """The page's title row with the presenter toggle (checked on load when the address says ?presenter=1)."""
    with gr.Row(elem_id="page-header", equal_height=True):
        gr.Markdown(f"# {title}\n{subtitle}", elem_id="page-title")
        toggle = gr.Checkbox(
            label="Presenter mode", value=False, elem_id="presenter-toggle", container=False, scale=0, min_width=200
        )
    toggle.input(None, toggle, None, js="(on) => { window.genmodelsPresenter(on); return []; }")
    Context.root_block.load(
        None, None, toggle, js="() => new URLSearchParams(window.location.search).get('presenter') === '1'"
    )
    return toggle
