"""Publish the app to a Hugging Face Space, or check that it would be accepted (no network needed):

    python -m hosting.publish --dry-run                 # list what would be uploaded, check the Hub's rules
    python -m hosting.publish --space you/genmodels     # create the Space if needed and upload (needs HF_TOKEN)

The upload goes through huggingface_hub's upload_folder, which stores binary files through LFS/Xet itself, so no
git-lfs is needed here; `.gitattributes` routes the same files through LFS for a plain `git push` to the Space.
The checks are the ones a push meets: every binary file matched by an LFS pattern, none over 10 MB outside LFS,
and a README front matter that the Hub's card parser reads as a Gradio Space this repository can run.
"""

from __future__ import annotations

import argparse
import fnmatch
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = ("tests/", ".ci/")  # tracked, but no use on a Space
MAX_PLAIN_FILE_BYTES = 10 * 2**20  # the Hub refuses larger files stored as plain git blobs
# ZeroGPU Spaces run Python 3.10 or 3.12, and requirements.txt needs 3.11+ (numpy 2.4); its pins resolve on 3.12
# (checked: pip install --dry-run --python-version 3.12 --only-binary=:all: -r requirements.txt)
SUPPORTED_PYTHON = ("3.12",)
BINARY_SUFFIXES = {
    ".safetensors",
    ".npz",
    ".npy",
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".gif",
    ".bin",
    ".pt",
    ".pth",
    ".ttf",
    ".otf",
    ".woff2",
    ".pdf",
    ".zip",
    ".gz",
}


@dataclass
class SpaceFile:
    path: str  # relative to the repository root
    size: int
    binary: bool
    lfs: bool  # matched by an LFS pattern of .gitattributes


def tracked_files(root: Path = ROOT) -> list[str]:
    """The files git tracks (what a clone has), less LEFT_OUT."""
    output = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return sorted(
        path
        for path in output.decode().split("\0")
        if path and not path.startswith(LEFT_OUT) and (root / path).is_file()
    )


def lfs_patterns(root: Path = ROOT) -> list[str]:
    attributes = root / ".gitattributes"
    if not attributes.is_file():
        return []
    patterns = []
    for line in attributes.read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
            patterns.append(fields[0])
    return patterns


def matches(path: str, pattern: str) -> bool:
    """Git's rule, as far as .gitattributes needs it: a pattern without a slash matches the file name at any depth."""
    if "/" not in pattern.rstrip("/"):
        return fnmatch.fnmatch(Path(path).name, pattern)
    return fnmatch.fnmatch(path, pattern.lstrip("/").replace("**/", "*"))


def is_binary(path: Path) -> bool:
    if path.suffix.lower() in BINARY_SUFFIXES:
        return True
    with path.open("rb") as file:
        return b"\0" in file.read(8192)


def space_files(root: Path = ROOT) -> list[SpaceFile]:
    patterns = lfs_patterns(root)
    return [
        SpaceFile(
            path,
            (root / path).stat().st_size,
            is_binary(root / path),
            any(matches(path, pattern) for pattern in patterns),
        )
        for path in tracked_files(root)
    ]


def front_matter_problems(root: Path = ROOT) -> list[str]:
    """The README's front matter, read by huggingface_hub's card parser, against what this repository runs."""
    import gradio
    from huggingface_hub import SpaceCard, SpaceHardware

    readme = root / "README.md"
    if not readme.is_file():
        return ["README.md is missing: a Space is configured by its front matter."]
    try:
        data = SpaceCard.load(readme).data
    except Exception as error:  # the parser's own message says what is wrong
        return [f"README.md front matter does not parse: {error}"]
    problems = []
    if data.sdk != "gradio":
        problems.append(f"sdk is {data.sdk!r}; this app needs 'gradio'.")
    if str(data.sdk_version) != gradio.__version__:
        problems.append(
            f"sdk_version is {data.sdk_version!r}; the app is built and tested on gradio "
            f"{gradio.__version__} (requirements.txt)."
        )
    if not data.app_file or not (root / data.app_file).is_file():
        problems.append(f"app_file {data.app_file!r} is not a file of this repository.")
    if str(data.python_version) not in SUPPORTED_PYTHON:
        problems.append(
            f"python_version is {data.python_version!r}; use {' or '.join(SUPPORTED_PYTHON)} (ZeroGPU "
            "runs 3.10 or 3.12, and requirements.txt needs 3.11 or later)."
        )
    hardware = data.to_dict().get("suggested_hardware")
    known = [flavor.value for flavor in SpaceHardware]
    if hardware is not None and hardware not in known:
        problems.append(f"suggested_hardware {hardware!r} is not a Space hardware: {', '.join(known)}.")
    if not data.title:
        problems.append("title is missing.")
    return problems


def problems(root: Path = ROOT) -> list[str]:
    """Everything that would make the Hub refuse the upload or the Space fail to build; empty when all is well."""
    found = front_matter_problems(root)
    files = space_files(root)
    for file in files:
        if file.binary and not file.lfs:
            found.append(f"{file.path}: a binary file no LFS pattern of .gitattributes matches (the Hub refuses it).")
        elif file.size > MAX_PLAIN_FILE_BYTES and not file.lfs:
            found.append(f"{file.path}: {file.size / 2**20:.1f} MB outside LFS (the Hub's limit is 10 MB).")
    paths = {file.path for file in files}
    for needed in ("requirements.txt", "README.md", ".gitattributes"):
        if needed not in paths:
            found.append(f"{needed} is not tracked: the Space would not get it.")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hosting.publish", description=__doc__.splitlines()[0])
    parser.add_argument("--space", help="the Space to create or update, as owner/name")
    parser.add_argument("--dry-run", action="store_true", help="list and check only; nothing leaves this machine")
    args = parser.parse_args(argv)
    files = space_files()
    for file in files:
        print(f"{file.size / 1024:10.1f} KB  {'LFS ' if file.lfs else '    '} {file.path}")
    print(
        f"{len(files)} files, {sum(f.size for f in files) / 2**20:.1f} MB "
        f"({sum(f.size for f in files if f.lfs) / 2**20:.1f} MB through LFS)"
    )
    found = problems()
    for problem in found:
        print(f"problem: {problem}", file=sys.stderr)
    if found:
        return 1
    print("The Hub's rules are met.")
    if args.dry_run:
        return 0
    if not args.space:
        parser.error("--space owner/name is needed to upload (or pass --dry-run)")
    from huggingface_hub import HfApi

    api = HfApi()  # the token: HF_TOKEN or `huggingface-cli login`
    api.create_repo(args.space, repo_type="space", space_sdk="gradio", exist_ok=True)
    info = api.upload_folder(
        repo_id=args.space,
        repo_type="space",
        folder_path=ROOT,
        allow_patterns=[file.path for file in files],
        commit_message="Publish from the repository (python -m hosting.publish)",
    )
    print(f"Uploaded: {info.commit_url}\nThe Space: https://huggingface.co/spaces/{args.space}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
