"""Errors as the page shows them: core's sentences for bad input, a plain 'internal error' for a bug; every handler runs through friendly_errors."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import TypeVar

import gradio as gr

from core.checkpoints import CheckpointError
from core.datasets import DatasetNotFoundError
from core.images import EmptyImageError, PictureFileError
from core.runtime import COMPUTE, gpu, on_zero_gpu
from demos import intake

T = TypeVar("T")
log = logging.getLogger(__name__)

PRESENTABLE_ERRORS = (EmptyImageError, CheckpointError, DatasetNotFoundError, ValueError, TypeError)
EMPTY_IMAGE_ADVICE = "Pick an example, upload a picture or draw one."


def presentable(error: Exception, where: str) -> gr.Error:
    """The gr.Error the page shows for `error`: its own sentence for the errors core raises on bad input (with what to
    do about an empty image or a bad picture file), a plain "internal error" for a bug (logged with its traceback,
    naming `where`)."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, EmptyImageError):
        return gr.Error(f"{error} {EMPTY_IMAGE_ADVICE}", title="Cannot do that")
    if isinstance(error, PictureFileError):
        return gr.Error(intake.picture_advice(error), title="Cannot do that")
    if isinstance(error, PRESENTABLE_ERRORS):
        return gr.Error(str(error), title="Cannot do that")
    log.exception("handler %s failed", where)  # a bug: say so plainly, details in the server log
    return gr.Error(f"Internal error ({type(error).__name__}); the server log has the details.")


GPU_SECONDS, LONG_RUN_GPU_SECONDS = 30, 120  # the ZeroGPU lease of a call and of a streamed run


def friendly_errors(
    handler: Callable[..., T],
    threads: int | None = None,
    uses_models: bool = True,
    ahead: int = 1,
) -> Callable[..., T]:
    """Run a handler on the compute worker and turn the errors core raises into a gr.Error a presenter can act on;
    the app keeps running.

    Plain handlers are light calls: they go before the next step of any long run. Streaming (generator) handlers
    are long runs (samplers, live training): each step goes to the worker as its own job, and their errors arise
    while iterating. `threads`: intra-op threads for this handler's jobs (None: the worker's default). `ahead`: how
    many updates a streaming handler may compute before the page has them (ComputeWorker.iterate).

    On a ZeroGPU Space a handler that `uses_models` runs under `spaces.GPU` instead, in the event's thread:
    ZeroGPU lends the GPU per call and queues the calls itself. Handlers with no network (the divergence numbers,
    the toy GAN's two small MLPs, showing a drawing) say uses_models=False and stay on the CPU worker. The
    wrapper's `zero_gpu` attribute holds the spaces.GPU function, or None."""

    def translate(error: Exception) -> gr.Error:
        return presentable(error, handler.__name__)

    streams = inspect.isgeneratorfunction(handler)
    on_gpu = gpu(handler, LONG_RUN_GPU_SECONDS if streams else GPU_SECONDS) if uses_models and on_zero_gpu() else None

    if streams:

        @functools.wraps(handler)
        def streaming(*args, **kwargs):
            for note in intake.notes(args):
                gr.Warning(note)
            try:
                if on_gpu is not None:
                    yield from on_gpu(*args, **kwargs)
                else:
                    yield from COMPUTE.iterate(handler(*args, **kwargs), COMPUTE.LONG_RUN, threads, ahead)
            except Exception as error:
                raise translate(error) from error

        streaming.zero_gpu = on_gpu
        return streaming

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        for note in intake.notes(args):  # here, in the event's thread, a warning reaches the page
            gr.Warning(note)
        try:
            if on_gpu is not None:
                return on_gpu(*args, **kwargs)
            return COMPUTE.run(lambda: handler(*args, **kwargs), COMPUTE.LIGHT, threads)
        except Exception as error:
            raise translate(error) from error

    wrapped.zero_gpu = on_gpu
    return wrapped
