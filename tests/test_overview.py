"""The Overview tab: the trilemma's scores, placement and claims, and the tab built on the cards."""

from __future__ import annotations

import math

import gradio as gr
import pytest
import torch

from core import trilemma
from core.checkpoints import read_card
from demos import overview as tab

F = trilemma.FamilyFigures


@pytest.mark.fast
def test_scores_run_from_the_worst_to_the_best_family_on_each_axis():
    figures = [F("fast blur", 18.0, 0.06, 0.1), F("sharp slow", 9.0, 0.09, 100.0), F("middle", 13.5, 0.03, 10.0)]
    s = trilemma.scores(figures)
    assert s["sharp slow"].quality == pytest.approx(1) and s["fast blur"].quality == pytest.approx(trilemma.FLOOR)
    assert s["middle"].quality == pytest.approx((1 + trilemma.FLOOR) / 2)  # linear in FD
    assert s["sharp slow"].coverage == pytest.approx(1) and s["middle"].coverage == pytest.approx(trilemma.FLOOR)
    assert s["fast blur"].speed == pytest.approx(1) and s["sharp slow"].speed == pytest.approx(trilemma.FLOOR)
    assert s["middle"].speed == pytest.approx(trilemma.FLOOR + (1 - trilemma.FLOOR) / 3)  # log scale: 10 of 1000x


@pytest.mark.fast
def test_triangle_point_sits_at_a_corner_for_one_goal_and_on_an_edge_for_two():
    corners = trilemma.CORNERS
    assert trilemma.triangle_point(trilemma.Scores(1, 0, 0)) == pytest.approx(corners["quality"])
    edge = trilemma.triangle_point(trilemma.Scores(1, 1, 0))  # sharp and diverse, slow: the quality-coverage edge
    assert edge == pytest.approx(tuple((a + b) / 2 for a, b in zip(corners["quality"], corners["coverage"])))
    centre = trilemma.triangle_point(trilemma.Scores(0.5, 0.5, 0.5))
    assert centre == pytest.approx((0.5, math.sqrt(3) / 6))


@pytest.mark.fast
def test_claims_name_the_leaders_and_whether_one_family_leads_everywhere():
    figures = [F("A", 18.0, 0.06, 0.1), F("B", 9.0, 0.09, 100.0)]
    c = trilemma.claims(figures)
    assert (c.sharpest.family, c.widest_coverage.family, c.fastest.family, c.slowest.family) == ("B", "B", "A", "B")
    assert c.all_three is None
    assert trilemma.claims([F("A", 9.0, 0.09, 0.1), F("B", 18.0, 0.06, 100.0)]).all_three.family == "A"


def test_the_tab_opens_filled_with_the_cards_numbers_and_live_speed():
    *rows, numbers, chart, claims = tab.default_compare()
    assert len(rows) == 5 and all(row["value"] is not None for row in rows)
    assert len(numbers) == 5 and len(chart.axes[0].collections) == 5  # the trilemma chart: a point per family
    ddpm = next(r for r in read_card("ddpm")["metrics"]["sampler_table"] if (r["sampler"], r["steps"]) == ("dpm++", 20))
    diffusion_row = numbers[numbers["Family"].str.startswith("Diffusion")].iloc[0]
    assert diffusion_row["FD (quality, lower is better)"] == ddpm["fd"]
    gan_row = numbers[numbers["Family"] == "GAN (DCGAN)"].iloc[0]
    assert gan_row["FD (quality, lower is better)"] == read_card("gan")["metrics"]["fd_samples_vs_test"]
    speeds = dict(zip(numbers["Family"], numbers["ms per image (speed, measured on this machine)"]))
    assert speeds["GAN (DCGAN)"] < speeds[diffusion_row["Family"]] / 10  # one network call against twenty
    assert "Fastest:" in claims and "Sharpest:" in claims
    assert "measured when the server started" in claims


def test_the_opening_view_is_computed_once_not_for_every_visitor(monkeypatch):
    tab.default_compare()
    monkeypatch.setattr(tab, "timed", lambda *_: pytest.fail("the opening view sampled again"))
    rows_again = tab.default_compare()
    assert len(rows_again) == 8


def test_every_visitor_gets_the_opening_rows_with_their_pictures():
    from gradio.blocks import postprocess_update_dict

    block = gr.Image()
    for _ in range(2):  # sending an update pops its value; the second visitor must still get one
        row = tab.default_compare()[0]
        assert row["value"] is not None
        postprocess_update_dict(block, row)


def test_fewer_diffusion_steps_make_the_diffusion_row_faster():
    def diffusion_ms(choice):
        numbers = tab.compare(0, choice)[5]
        return numbers[numbers["Family"].str.startswith("Diffusion")][
            "ms per image (speed, measured on this machine)"
        ].iloc[0]

    tab.compare(0, "DDIM 10")  # warm
    assert diffusion_ms("DDIM 10") < 0.6 * diffusion_ms("DDIM 50")


@pytest.mark.fast
def test_unmeasured_step_counts_are_refused():
    with pytest.raises(gr.Error, match="sampler and steps"):
        tab.compare(0, "DDIM 7")


@pytest.mark.fast
def test_the_readme_lists_every_lecture_preset():
    from pathlib import Path

    from demos.presets import PRESETS, readme_table

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert readme_table() in readme
    assert len({p.slug for p in PRESETS}) == len(PRESETS)


@pytest.mark.parametrize("index", [0, 1, 2])  # VAE, GAN, StyleGAN: cheap enough to re-measure here
def test_the_cards_numbers_the_tab_shows_hold_on_a_fresh_measurement(index):
    """1,000 new samples (another seed than the card's) against the test set: FD within 15% of the card's, the
    rarest class within 3 points."""
    from core.datasets import load_training_data
    from core.metrics import class_histogram, classifier_outputs, frechet_distance, load_classifier

    family = tab.one_call_families()[index]
    card = family.card()
    classifier = load_classifier()
    test_features, _ = classifier_outputs(classifier, load_training_data("test").tensors()[0])
    images = torch.cat([family.sample(seed, 250) for seed in (101, 102, 103, 104)]).clamp(0, 1)
    features, predictions = classifier_outputs(classifier, images)
    fd = frechet_distance(features, test_features)
    assert abs(fd - card["fd"]) <= 0.15 * card["fd"], (family.name, fd, card["fd"])
    assert abs(min(class_histogram(predictions).values()) - card["min_class_share"]) <= 0.03
