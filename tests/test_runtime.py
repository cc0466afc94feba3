from __future__ import annotations

import threading
import time

import pytest
import torch

from core import runtime


@pytest.mark.fast
def test_model_cache_loads_once_under_concurrent_requests():
    cache, calls = runtime.ModelCache(), []

    def slow_loader():
        calls.append(1)
        time.sleep(0.05)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("m", slow_loader))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(r is results[0] for r in results)


@pytest.mark.fast
def test_milliseconds_per_call_times_the_repeats_after_the_warmup():
    calls = []

    def call():
        calls.append(1)
        time.sleep(0.005)

    ms = runtime.milliseconds_per_call(call, repeats=4, warmup=2)
    assert len(calls) == 6
    assert 5 <= ms < 500  # each call sleeps 5 ms: milliseconds per call, not seconds, not the sum


@pytest.mark.fast
def test_model_cache_does_not_remember_failures():
    cache, attempts = runtime.ModelCache(), []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise FileNotFoundError("not yet")
        return "model"

    with pytest.raises(FileNotFoundError):
        cache.get("m", flaky)
    assert cache.get("m", flaky) == "model"


@pytest.mark.fast
def test_per_request_generators_leave_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    a = torch.rand(3, generator=runtime.generator(5))
    b = torch.rand(3, generator=runtime.generator(5))
    assert torch.equal(a, b) and torch.equal(torch.rand(3), expected)


@pytest.mark.fast
@pytest.mark.parametrize("choice,expected", [("on", True), ("off", False)])
def test_bf16_choice_is_explicit_when_asked(choice, expected, monkeypatch):
    monkeypatch.delenv("GENMODELS_BF16", raising=False)
    assert runtime.use_bf16(choice, torch.device("cpu")) is expected


@pytest.mark.fast
def test_bf16_environment_override(monkeypatch):
    monkeypatch.setenv("GENMODELS_BF16", "off")
    assert runtime.use_bf16("on", torch.device("cpu")) is False


@pytest.mark.fast
def test_in_precision_runs_the_network_in_bf16_and_hands_back_fp32():
    seen = []
    linear = torch.nn.Linear(8, 8)

    def network(x):
        out = linear(x)
        seen.append(out.dtype)
        return out

    x = torch.randn(4, 8)
    assert runtime.in_precision(network, False) is network
    out = runtime.in_precision(network, True)(x)
    assert seen == [torch.bfloat16] and out.dtype == torch.float32
    assert torch.allclose(out, linear(x), atol=0.05) and not torch.equal(out, linear(x))


def test_the_samplers_follow_the_inference_precision_choice(monkeypatch):
    from demos import latent_diffusion as tab

    seen = []
    monkeypatch.setattr(tab, "inference_bf16", lambda: True)
    real = tab.latent_diffusion.LatentDiffusion.sample
    monkeypatch.setattr(
        tab.latent_diffusion.LatentDiffusion,
        "sample",
        lambda self, *args, bf16=False, **kwargs: seen.append(bf16) or real(self, *args, bf16=bf16, **kwargs),
    )
    list(tab.text_to_image.__wrapped__("a photo of a bag", 4.0, 10, 0, 1))
    assert seen == [True]


@pytest.mark.fast
def test_gpu_shim_is_a_no_op_off_spaces(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def handler():
        return 1

    assert runtime.gpu(handler) is handler
