"""The Space's rules, checked without the network: what hosting.publish would upload is accepted by the Hub."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hosting import publish

pytestmark = pytest.mark.fast


def test_the_repository_meets_the_hubs_rules_and_ships_its_checkpoints_through_lfs():
    assert publish.problems() == []
    files = {file.path: file for file in publish.space_files()}
    assert "app.py" in files and "requirements.txt" in files and not any(p.startswith("tests/") for p in files)
    binaries = [file for file in files.values() if file.binary]
    assert any(path.endswith(".safetensors") for path in files) and all(file.lfs for file in binaries)
    assert all(not file.lfs for file in files.values() if file.path.endswith((".py", ".json", ".md")))


@pytest.fixture
def tiny_repo(tmp_path):
    """A git repository with this one's README, .gitattributes and requirements, and a stand-in app."""
    for name in ("README.md", ".gitattributes", "requirements.txt", "app.py"):
        shutil.copy(publish.ROOT / name, tmp_path / name)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)

    def track():
        subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)

    track()
    return tmp_path, track


def test_a_binary_file_outside_lfs_is_named(tiny_repo):
    root, track = tiny_repo
    assert publish.problems(root) == []
    (root / "weights.raw16").write_bytes(b"\x00\x3c" * 8)  # half-precision ones, a suffix no LFS pattern covers
    track()
    found = publish.problems(root)
    assert len(found) == 1 and found[0].startswith("weights.raw16: a binary file")


def test_front_matter_that_a_space_could_not_run_is_named(tiny_repo):
    root, _track = tiny_repo
    readme = root / "README.md"
    text = readme.read_text()
    readme.write_text(
        text.replace("sdk: gradio", "sdk: streamlit").replace('python_version: "3.12"', 'python_version: "3.9"')
    )
    found = publish.front_matter_problems(root)
    assert any(p.startswith("sdk is 'streamlit'") for p in found)
    assert any(p.startswith("python_version is '3.9'") for p in found)
    readme.write_text("no front matter at all\n")
    assert publish.front_matter_problems(root)  # sdk and the rest missing


def test_the_dry_run_lists_the_files_and_uploads_nothing(capsys, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda *a, **k: pytest.fail("uploaded"))
    assert publish.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "LFS  checkpoints/ddpm/model.safetensors" in out and "The Hub's rules are met." in out
