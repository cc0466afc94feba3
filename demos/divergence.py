"""Background tab: information, entropy, KL and JS divergence of two editable discrete distributions."""

from __future__ import annotations

import functools
import math

import gradio as gr
import numpy as np
import pandas as pd

from core import divergence as dv
from demos.common import LATEX, intro, private
from demos.errors import friendly_errors

LECTURE_P, LECTURE_Q = "0.36, 0.48, 0.16", "0.333, 0.333, 0.333"
PRESETS = {
    "The lecture's example": (LECTURE_P, LECTURE_Q),
    "Identical distributions": (LECTURE_P, LECTURE_P),
    "Sharp vs flat": ("0.9, 0.05, 0.05", LECTURE_Q),
    "q misses an outcome p has (KL infinite)": ("0.5, 0.3, 0.2", "0.6, 0.4, 0"),
    "Disjoint supports (JS = log 2)": ("0.5, 0.5, 0, 0", "0, 0, 0.5, 0.5"),
}

INTRO = r"""
## Background: information, entropy and KL divergence
Edit p and q (numbers separated by commas) or pick a preset; all in **nats** (natural log), as in the lecture.
$I(x) = -\log p(x)$, $\quad H_p = -\sum_x p(x)\log p(x)$, $\quad KL(p\|q) = \sum_x p(x)\log\frac{p(x)}{q(x)} = H(p,q) - H_p$,
$\quad JS(p,q) = \tfrac12 KL(p\|m) + \tfrac12 KL(q\|m)$ with $m = \tfrac{p+q}{2}$.
"""
NON_NEGATIVITY = r"""
**Why KL ≥ 0** (lecture): with $\ln x \le x - 1$,
$-KL(p\|q) = \sum p \ln\frac{q}{p} \le \sum p\left(\frac{q}{p} - 1\right) = \sum q - \sum p = 1 - 1 = 0$.
Single terms $p(x)\ln\frac{p(x)}{q(x)}$ can be negative (bars below zero); their sum cannot.
"""


def _number(value: float) -> float | str:
    return "∞" if math.isinf(value) else round(value, 4)


@functools.partial(friendly_errors, uses_models=False)  # numbers only
def divergence(p_text, q_text):
    """p, q -> numbers table, per-outcome table, bar data for p and q, bar data for the KL terms, a note."""
    c = dv.compare(p_text, q_text)
    p, q = c.p.probabilities, c.q.probabilities
    numbers = [
        ["H(p), entropy of p", _number(c.entropy_p)],
        ["H(q), entropy of q", _number(c.entropy_q)],
        ["H(p, q), cross-entropy", _number(c.cross_entropy_pq)],
        ["KL(p‖q)", _number(c.kl_pq)],
        ["KL(q‖p)", _number(c.kl_qp)],
        ["JS(p, q)", _number(c.js)],
        ["log 2, the largest JS", _number(math.log(2))],
    ]
    info_p, info_q = dv.information(p), dv.information(q)
    terms_pq, terms_qp = dv.kl_terms(p, q), dv.kl_terms(q, p)
    width = len(str(len(p) - 1))  # zero-pad so the plot's alphabetical order is the outcomes' order
    outcomes = [f"{i:0{width}d}" for i in range(len(p))]
    per_outcome = [
        [
            x,
            round(p[i], 4),
            round(q[i], 4),
            _number(info_p[i]),
            _number(info_q[i]),
            _number(terms_pq[i]),
            _number(terms_qp[i]),
        ]
        for i, x in enumerate(outcomes)
    ]
    # Native bar plots stack bars of one x; one bar per (outcome, series) puts them side by side instead.
    bars = _side_by_side(outcomes, {"p": p, "q": q}, "probability", "distribution")
    kl_bars = _side_by_side(outcomes, {"p ln(p/q)": terms_pq, "q ln(q/p)": terms_qp}, "term", "sum")
    return numbers, per_outcome, bars, kl_bars, _explain(c)


def _side_by_side(outcomes: list[str], series: dict[str, np.ndarray], value: str, legend: str) -> pd.DataFrame:
    rows = [
        (f"{x} {name.split()[0]}", float(v) if np.isfinite(v) else np.nan, name)  # infinite: no bar
        for i, x in enumerate(outcomes)
        for name, values in series.items()
        for v in [values[i]]
    ]
    return pd.DataFrame(rows, columns=["x", value, legend])


SERIES_COLOURS = ("#2563eb", "#f97316")  # p's series blue, q's orange, in both bar plots


def _side_by_side_plot(
    data: pd.DataFrame, value: str, legend: str, series: tuple[str, str], label: str, **options
) -> gr.BarPlot:
    """A bar plot of _side_by_side's rows over the outcomes x: series (p's, q's) in SERIES_COLOURS."""
    return gr.BarPlot(
        data,
        x="x",
        y=value,
        color=legend,
        label=label,
        x_title="outcome x",
        color_map=dict(zip(series, SERIES_COLOURS)),
        **options,
    )


def _explain(c: dv.Comparison) -> str:
    lines = []
    for name, d in (("p", c.p), ("q", c.q)):
        if d.was_normalised:
            lines.append(f"{name} did not sum to 1, so it was divided by its sum.")
    if math.isinf(c.kl_pq) or math.isinf(c.kl_qp):
        lines.append(
            "**KL is infinite** where one distribution gives probability 0 to an outcome the other "
            "thinks possible: log(p/0) has no bound. JS stays finite because it compares each with the mixture m."
        )
    elif c.kl_pq == 0 and c.kl_qp == 0:
        lines.append("p = q, so both KLs and JS are 0: KL is zero only for identical distributions.")
    else:
        lines.append(
            f"**Not symmetric:** KL(p‖q) = {c.kl_pq:.4f} but KL(q‖p) = {c.kl_qp:.4f}. "
            f"JS is symmetric: {c.js:.4f} either way, and at most log 2 = {math.log(2):.4f}."
        )
    lines.append(f"Check: KL(p‖q) = H(p, q) − H(p) = {_number(c.cross_entropy_pq)} − {c.entropy_p:.4f}.")
    return "\n\n".join([NON_NEGATIVITY] + lines)


def build(tab: gr.Tab) -> None:
    # The tab opens on the lecture's example, computed here: pure arithmetic, so not through the compute worker,
    # whose first job loads torch (the page is drawn before torch loads: core/lazy.py)
    initial = divergence.__wrapped__(LECTURE_P, LECTURE_Q)
    intro(INTRO)
    with gr.Row():
        p_box = gr.Textbox(value=LECTURE_P, label="p(x), one number per outcome", elem_id="div-p")
        q_box = gr.Textbox(value=LECTURE_Q, label="q(x)", elem_id="div-q")
        preset = gr.Dropdown(list(PRESETS), value="The lecture's example", label="Preset", elem_id="div-preset")
        button = gr.Button("Compute", variant="primary")
    with gr.Row():
        numbers = gr.Dataframe(
            initial[0], headers=["Quantity", "nats"], label="Numbers", interactive=False, elem_id="div-numbers"
        )
        per_outcome = gr.Dataframe(
            initial[1],
            headers=["x", "p(x)", "q(x)", "−ln p", "−ln q", "p ln(p/q)", "q ln(q/p)"],
            label="Per outcome",
            interactive=False,
        )
    with gr.Row():
        bars = _side_by_side_plot(initial[2], "probability", "distribution", ("p", "q"), "p and q", y_lim=[0, 1])
        kl_bars = _side_by_side_plot(initial[3], "term", "sum", ("p ln(p/q)", "q ln(q/p)"), "The terms each KL adds up")
    note = gr.Markdown(initial[4], latex_delimiters=LATEX)

    outputs = [numbers, per_outcome, bars, kl_bars, note]
    gr.on([button.click, p_box.submit, q_box.submit], divergence, [p_box, q_box], outputs, api_name="divergence")
    preset.input(
        lambda name: PRESETS.get(name, PRESETS["The lecture's example"]),
        preset,
        [p_box, q_box],
        **private("divergence_preset"),
    ).then(divergence, [p_box, q_box], outputs, **private("divergence_after_preset"))
