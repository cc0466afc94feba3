"""Start-up without timing: the page is built before torch loads, and the stand-in that makes that possible
(core/lazy.py) behaves like the module it stands for."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from core.lazy import lazy_import

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_building_the_whole_page_imports_no_torch_and_the_first_model_call_does():
    """The page's 13 tabs are built from torch-free modules (torch is 1.4 s of a 5-s start on 2 cores); a handler
    then loads torch and its model as it runs. A module that reads torch while the page is built fails this."""
    out = run_python(
        """
        import sys
        import app
        app.build_app()
        built = sorted(m for m in ("torch", "core.vae", "core.gan", "core.clip", "diffusers") if m in sys.modules)
        from demos import vae
        vae.decode(2, "0, 0")
        print(built, "torch" in sys.modules, "core.vae" in sys.modules)
        """
    )
    assert out.splitlines()[-1] == "[] True True"  # (loading the weights may print a line before)


@pytest.mark.fast
def test_the_stand_in_imports_its_module_on_first_read_only(tmp_path, monkeypatch):
    (tmp_path / "slow_to_import.py").write_text(
        "import time\nIMPORTS = []\ntime.sleep(0.2)\nIMPORTS.append(1)\nVALUE = 7\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_to_import", raising=False)
    module = lazy_import("slow_to_import")
    assert "slow_to_import" not in sys.modules
    assert "not yet loaded" in repr(module)
    values, threads = [], [threading.Thread(target=lambda: values.append(module.VALUE)) for _ in range(4)]
    for thread in threads:  # four first reads at once: one import, and each reader waits for it to finish
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert values == [7, 7, 7, 7]
    assert sys.modules["slow_to_import"].IMPORTS == [1]
    assert "loaded" in repr(module) and "not yet" not in repr(module)
    with pytest.raises(AttributeError):
        module.MISSING  # noqa: B018 (the read is the test)


@pytest.mark.fast
def test_the_stand_in_reads_and_writes_through_to_the_real_module(monkeypatch):
    import core.datasets

    stand_in = lazy_import("core.datasets")
    assert stand_in.FASHION_CLASSES is core.datasets.FASHION_CLASSES
    monkeypatch.setattr(stand_in, "IMAGE_SIZE", 99)  # a test patching through the stand-in patches the module
    assert core.datasets.IMAGE_SIZE == 99
    monkeypatch.undo()
    assert core.datasets.IMAGE_SIZE == 28
    monkeypatch.setattr(core.datasets, "IMAGE_SIZE", 42)  # and a patch of the module is seen through it
    assert stand_in.IMAGE_SIZE == 42
    assert "load_sample" in dir(stand_in)


@pytest.mark.fast
def test_the_catalog_agrees_with_the_modules_that_define_the_networks():
    """core/catalog.py names what the page shows before torch loads; the network modules must mean the same."""
    from core import catalog, latent_diffusion, pix2pix, unpaired, vae

    assert tuple(pix2pix.PAIRED_SETS) == catalog.PIX2PIX_DATASETS
    assert set(pix2pix.CHECKPOINTS) == {(d, o) for d in pix2pix.PAIRED_SETS for o in pix2pix.OBJECTIVES}
    assert (unpaired.UnpairedConfig.domain_u, unpaired.UnpairedConfig.domain_v) == catalog.UNPAIRED_DEFAULT_DOMAINS
    assert vae.LATENT_SIZES == catalog.VAE_LATENT_SIZES
    assert latent_diffusion.DEFAULT_GUIDANCE == catalog.LDM_DEFAULT_GUIDANCE


def test_the_compute_worker_starts_with_the_page_before_the_server_and_without_torch():
    """ComputeWorker.start: a worker started after the server's threads shared a malloc arena with them, and the
    server's memory grew by half in minutes of a classroom load."""
    out = run_python(
        """
        import sys
        import app
        from core.runtime import COMPUTE
        app.build_app()
        print(COMPUTE._thread is not None and COMPUTE._thread.is_alive(), "torch" in sys.modules)
        """
    )
    assert out.splitlines()[-1] == "True False"
