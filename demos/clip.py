"""Tab "CLIP": score texts against an image, the paper's similarity matrix, zero-shot classification."""

from __future__ import annotations

import functools

import gradio as gr
import pandas as pd
from PIL import Image

from core.captions import CLASS_PROMPT_NAMES, ZERO_SHOT_TEMPLATE, fill_template
from core.checkpoints import CheckpointError, read_card
from core.datasets import FASHION_CLASSES, load_sample
from core.emoji import load_emoji_sample
from core.images import READ_AS, is_colourful, to_garment_or_picture
from core.lazy import lazy_import
from demos.common import (
    checkpoint_notice,
    example_indices,
    image_input,
    image_sources,
    intro,
    output_image,
    private,
    sample_image,
)
from demos.errors import friendly_errors
from demos.render import confusion_heatmap, similarity_heatmap, to_display

torch = lazy_import("torch")
clip = lazy_import("core.clip")
metrics = lazy_import("core.metrics")

MAX_TEXTS = 20
MAX_TEXT_CHARACTERS = 200
DEFAULT_TEXTS = "a photo of a sneaker\na photo of a sandal\na photo of an ankle boot\na photo of a bag\na red apple"
INTRO = r"""
## CLIP: images and texts in one space
An image encoder $f$ and a text encoder $g$ are trained together so that an image and its caption land close.

For a batch of $N$ pairs, the $N \times N$ matrix of scaled cosine similarities
$s_{ij} = e^{t} \cos(f(\text{image}_i), g(\text{text}_j))$ should peak on its diagonal (a cross-entropy over rows and
over columns; $e^{t}$ = 1 / temperature is learned). Comparing an image with
several texts and taking a softmax over their scores picks the best caption; with one prompt per class,
"a photo of a {class}", CLIP classifies images it was never trained to classify: **zero-shot**.

The bundled CLIP is small and was trained from scratch here (`python -m core.train clip`) on Fashion-MNIST with
varied captions and on Noto Color Emoji with their Unicode names. **It knows only the words of its training
captions**: any other word becomes `<unk>`, and the tab flags it. Grey images are read as garments (framed like
Fashion-MNIST), colourful ones as pictures on white, like the emoji.
"""


def _bundle() -> clip.CLIPBundle:
    return clip.load_bundle()


def parse_texts(texts) -> list[str]:
    """Texts one per line (or a list, through the API) -> the non-empty lines; bad input gets a message."""
    if isinstance(texts, (list, tuple)):
        lines = [str(t) for t in texts]
    elif isinstance(texts, str):
        lines = texts.splitlines()
    else:
        raise ValueError("Give the texts as lines of text, one text a line.")
    lines = [line.strip() for line in lines if line.strip()]
    if len(lines) < 1:
        raise ValueError("Write at least one text, one a line (two or more to compare).")
    if len(set(lines)) < len(lines):
        raise ValueError("Two lines are the same text; make each line different.")
    if len(lines) > MAX_TEXTS:
        raise ValueError(f"At most {MAX_TEXTS} texts at once, not {len(lines)}.")
    too_long = [line for line in lines if len(line) > MAX_TEXT_CHARACTERS]
    if too_long:
        raise ValueError(f"Each text must be at most {MAX_TEXT_CHARACTERS} characters; shorten '{too_long[0][:40]}…'.")
    return lines


def vocabulary_note(bundle: clip.CLIPBundle, texts: list[str]) -> str:
    notes = []
    for text in texts:
        unknown = clip.unknown_words(bundle.tokenizer, text)
        if unknown:
            notes.append(f"- “{text}”: never seen **{', '.join(dict.fromkeys(unknown))}** (read as `<unk>`)")
        if len(clip.words(text)) > clip.MAX_TEXT_TOKENS - 2:
            notes.append(f"- “{text[:40]}…” is longer than {clip.MAX_TEXT_TOKENS - 2} words and was cut")
    if not notes:
        return "Every word is in the model's vocabulary."
    return "**Words the bundled model never saw** — it cannot know what they mean:\n" + "\n".join(notes)


@friendly_errors
def score(image, texts, read_as="auto"):
    """An image and texts -> softmax over the texts (gr.Label), a table of raw cosine similarities, a note.
    read_as: "auto", "garment" or "picture" (how the image is framed for the model)."""
    lines = parse_texts(texts)
    x = to_garment_or_picture(image, clip.INPUT_SIZE, read_as)
    bundle = _bundle()
    with torch.inference_mode():
        similarities = clip.cosine_similarities(bundle.embed_images(x), bundle.embed_texts(lines))[0]
    scale = bundle.logit_scale
    probabilities = clip.text_probabilities(similarities, scale)
    label = {text: float(p) for text, p in zip(lines, probabilities)}
    # float64 before rounding: a float32 0.6529 reaches the page as 0.652899980545044
    table = pd.DataFrame(
        {
            "text": lines,
            "cosine similarity": similarities.double().numpy().round(4),
            "exp(t) × cosine": (scale * similarities).double().numpy().round(2),
            "probability": probabilities.double().numpy().round(3),
        }
    )
    kind = "a garment (grey, 28 px, bright on black)" if x.shape[1] == 1 else "a picture (colour, 64 px, on white)"
    note = (
        f"Read as {kind}. Learned scale exp(t) = **{scale:.1f}**, i.e. temperature τ = {1 / scale:.4f}: "
        f"probabilities are softmax(exp(t) · cosine) over these {len(lines)} texts only.\n\n"
        + vocabulary_note(bundle, lines)
    )
    return label, table, note


def _matrix_examples() -> tuple[list[Image.Image], list[torch.Tensor], list[str]]:
    """Six held-out garments and four held-out emoji with their captions: the paper's N x N picture."""
    sample, emoji = load_sample(), load_emoji_sample()
    pictures, inputs, captions = [], [], []
    for class_index in (0, 1, 5, 7, 8, 9):
        i = example_indices()[class_index]
        pictures.append(to_display(sample.images[i] / 255.0, scale=4))
        inputs.append(torch.from_numpy(sample.images[i]).float().div(255).view(1, 1, 28, 28))
        captions.append(ZERO_SHOT_TEMPLATE.format(CLASS_PROMPT_NAMES[class_index]))
    for name in emoji.names:
        if len(captions) == 10:
            break
        unknown = clip.unknown_words(_bundle().tokenizer, name)
        if not unknown and "regional" not in name and "squared" not in name:
            k = emoji.names.index(name)
            pictures.append(Image.fromarray(emoji.images[k]))
            inputs.append(torch.from_numpy(emoji.images[k]).permute(2, 0, 1).float().div(255).unsqueeze(0))
            captions.append(name)
    return pictures, inputs, captions


@friendly_errors
def similarity_matrix():
    """Images x their captions: cosine similarities, the diagonal should win (held-out images only)."""
    bundle = _bundle()
    pictures, inputs, captions = _matrix_examples()
    with torch.inference_mode():
        image_embeddings = torch.cat([bundle.embed_images(x) for x in inputs])
        similarities = clip.cosine_similarities(image_embeddings, bundle.embed_texts(captions))  # (images, texts)
    by_caption = similarities.T  # (texts, images): one row per caption, as drawn
    hits = int((by_caption.argmax(dim=1) == torch.arange(len(captions))).sum())
    text = (
        f"Rows: captions; columns: held-out images (garments from the test set, emoji from the held-out tenth). "
        f"Each caption's best image is outlined: {hits} of {len(captions)} captions pick their own image (on "
        "the diagonal). The emoji shown are held-out ones whose names use only words the model knows."
    )
    return similarity_heatmap(pictures, captions, by_caption.tolist()), text


@friendly_errors
def zero_shot(template):
    """A prompt template with {} (or {class}) for the class -> accuracy on the 500 bundled test images, and the
    confusion matrix."""
    if not isinstance(template, str) or template.replace("{class}", "{}").count("{}") != 1:
        raise ValueError(
            "The template must contain {} (or {class}) exactly once, where the class name goes: 'a photo of a {}'."
        )
    if len(template) > MAX_TEXT_CHARACTERS:
        raise ValueError(f"The template must be at most {MAX_TEXT_CHARACTERS} characters.")
    bundle = _bundle()
    _x, y = load_sample().tensors()
    predictions = _sample_predictions(template)
    confusion = metrics.confusion_matrix(y, predictions).numpy()
    unknown = clip.unknown_words(bundle.tokenizer, fill_template(template, ""))
    summary = (
        f"**Zero-shot accuracy: {100 * metrics.accuracy(predictions, y):.1f}%** on the 500 bundled test images "
        f"(chance: 10%) with prompts like “{fill_template(template, CLASS_PROMPT_NAMES[9])}”."
    )
    if unknown:
        summary += f" The template has words the model never saw: {', '.join(unknown)}."
    return summary, confusion_heatmap(confusion, list(FASHION_CLASSES))


@functools.lru_cache(maxsize=16)  # the tab opens on the paper's template: computed once per process
def _sample_predictions(template: str) -> torch.Tensor:
    with torch.inference_mode():
        return clip.zero_shot_predictions(_bundle(), load_sample().tensors()[0], template)


def card_summary() -> str:
    try:
        m = read_card("clip")["metrics"]
    except (CheckpointError, KeyError):
        return ""
    return (
        f"Measured by the recipe: zero-shot **{100 * m['zero_shot_accuracy']:.1f}%** on the full Fashion-MNIST "
        f"test set (10,000). Text → image retrieval among the {m['emoji_test_count']} held-out emoji: "
        f"R@1 {100 * m['emoji_test_retrieval_r1']:.1f}%, R@5 {100 * m['emoji_test_retrieval_r5']:.1f}% "
        f"(their names often contain words it never saw); among the {m['emoji_train_count']} training emoji: "
        f"R@1 {100 * m['emoji_train_retrieval_r1']:.1f}%, R@5 {100 * m['emoji_train_retrieval_r5']:.1f}%."
    )


def emoji_examples(count: int = 12) -> dict[str, Image.Image]:
    """Held-out emoji that "auto" reads as pictures, skipping letter and ideograph boxes, spread over the sample."""
    emoji = load_emoji_sample()
    usable = [
        i
        for i, name in enumerate(emoji.names)
        if is_colourful(emoji.images[i]) and not any(word in name for word in ("regional", "squared", "ideograph"))
    ]
    chosen = usable[:: max(1, len(usable) // count)][:count]
    return {emoji.names[i]: Image.fromarray(emoji.images[i]).resize((128, 128), Image.LANCZOS) for i in chosen}


OPENING_EXAMPLE = 7  # the bundled sneaker: one of the default texts names it


def build(tab: gr.Tab) -> None:
    intro(INTRO + "\n\n" + card_summary())
    checkpoint_notice(["clip"])
    with gr.Row():
        with gr.Column(min_width=420):
            image = image_input("Which text fits this image?", value=sample_image(OPENING_EXAMPLE))
            image_sources(image, "clip", extra_examples=emoji_examples(), extra_label="Held-out emoji (colour)")
        with gr.Column(min_width=420):
            texts = gr.Textbox(
                value=DEFAULT_TEXTS, lines=4, max_lines=MAX_TEXTS, label=f"Texts, one a line (at most {MAX_TEXTS})"
            )
            with gr.Row(equal_height=True):
                read_as = gr.Dropdown(
                    list(READ_AS), value="auto", label="Read the image as (auto: colour is a picture, grey a garment)"
                )
                score_button = gr.Button("Score", variant="primary")
            probabilities = gr.Label(
                label="softmax over the texts",
                num_top_classes=MAX_TEXTS,
                show_heading=False,
                elem_id="clip-probabilities",
            )  # no heading: the bars stay on the first screen
            similarities = gr.Dataframe(label="Raw scores", interactive=False)
            note = gr.Markdown()

    gr.Markdown("### The CLIP paper's picture: a batch of images against their captions")
    with gr.Row():
        matrix = output_image("Cosine similarity, caption × image", elem_id="clip-matrix", height=None)
    matrix_text = gr.Markdown()

    gr.Markdown("### Zero-shot classification of the sample set")
    with gr.Row():
        with gr.Column():
            template = gr.Textbox(value=ZERO_SHOT_TEMPLATE, label="Prompt template ({} is the class name)")
            zero_shot_button = gr.Button("Classify the 500 sample images", variant="primary")
            zero_shot_text = gr.Markdown()
        confusion = output_image("Confusion matrix", elem_id="clip-confusion", height=None)

    score_button.click(score, [image, texts, read_as], [probabilities, similarities, note], api_name="clip_score")
    image.change(
        lambda picture, lines, how: [gr.skip()] * 3 if picture is None else score(picture, lines, how),
        [image, texts, read_as],
        [probabilities, similarities, note],
        **private("clip_refresh"),
    )
    zero_shot_button.click(zero_shot, template, [zero_shot_text, confusion], api_name="clip_zero_shot")
    tab.select(
        score, [image, texts, read_as], [probabilities, similarities, note], **private("clip_open_example")
    )  # the example the input opens with, against the default texts
    tab.select(similarity_matrix, None, [matrix, matrix_text], **private("clip_open")).then(
        zero_shot, template, [zero_shot_text, confusion], **private("clip_open_zero_shot")
    )


def warm_up() -> None:
    """Load CLIP and compute what the tab opens on: the similarity matrix and the zero-shot table."""
    similarity_matrix()
    zero_shot(ZERO_SHOT_TEMPLATE)
