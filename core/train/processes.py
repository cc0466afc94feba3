"""Several CPU processes from `accelerate launch --cpu --num_processes N`.

accelerate's launcher starts several CPU processes only through MPI (`--mpirun_hostfile`); without it, it starts one
process and sets MASTER_ADDR, and that process would train alone while the user asked for N. `core.train` notices
this and starts the N processes itself with PyTorch's own launcher (torchrun, which `accelerate launch --multi_gpu`
uses too); accelerate then finds them (WORLD_SIZE, RANK) and trains data parallel over gloo.
"""

from __future__ import annotations

import os
from pathlib import Path

WORLD_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def requested_cpu_processes() -> int:
    """N when this process was started by `accelerate launch --cpu --num_processes N` (N > 1) as a lone process,
    else 0. N is read from the launcher's command line (Linux /proc)."""
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() not in ("true", "1") or "MASTER_ADDR" not in os.environ:
        return 0
    if any(variable in os.environ for variable in WORLD_VARIABLES):
        return 0  # already one of several processes
    try:
        launcher = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return 0
    for flag in ("--num_processes", "--num-processes"):
        for i, arg in enumerate(launcher[:-1]):
            if arg == flag and launcher[i + 1].isdigit():
                return int(launcher[i + 1]) if int(launcher[i + 1]) > 1 else 0
            if arg.startswith(flag + "=") and arg.split("=", 1)[1].isdigit():
                return int(arg.split("=", 1)[1]) if int(arg.split("=", 1)[1]) > 1 else 0
    return 0


def start_processes(count: int, argv: list[str]) -> None:
    """Run `python -m core.train <argv>` as `count` processes on this machine (returns when all have ended;
    raises if one fails)."""
    from torch.distributed.run import main as torchrun

    os.environ.pop("MASTER_ADDR", None)  # --standalone picks a free local address and port
    torchrun(["--standalone", "--nproc_per_node", str(count), "-m", "core.train", *argv])
