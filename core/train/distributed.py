"""Training on several processes: starting them, and keeping them in step.

Starting them, from `accelerate launch --cpu --num_processes N`:

accelerate's launcher starts several CPU processes only through MPI (`--mpirun_hostfile`); without it, it starts one
process and sets MASTER_ADDR, and that process would train alone while the user asked for N. `core.train` notices
this and starts the N processes itself with PyTorch's own launcher (torchrun, which `accelerate launch --multi_gpu`
uses too); accelerate then finds them (WORLD_SIZE, RANK) and trains data parallel over gloo.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

WORLD_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def _flag(arguments: list[str], *names: str) -> str | None:
    """The value of --name VALUE or --name=VALUE in a command line, or None."""
    for i, argument in enumerate(arguments):
        for name in names:
            if argument == name and i + 1 < len(arguments):
                return arguments[i + 1]
            if argument.startswith(name + "="):
                return argument.split("=", 1)[1]
    return None


def requested_cpu_processes() -> int:
    """N when this process was started by `accelerate launch --cpu --num_processes N` (N > 1) as a lone process,
    else 0. N comes from the launcher's command line (Linux /proc), else from the accelerate config file it used;
    when neither says, this is refused in a sentence rather than trained on one process unnoticed."""
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() not in ("true", "1") or "MASTER_ADDR" not in os.environ:
        return 0  # MASTER_ADDR: accelerate sets it only when asked for more than one process
    if any(variable in os.environ for variable in WORLD_VARIABLES):
        return 0  # already one of several processes
    try:
        launcher = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        launcher = []
    count = _flag(launcher, "--num_processes", "--num-processes")
    if count is None:
        config_file = _flag(launcher, "--config_file", "--config-file")
        count = _configured_processes(config_file)
    if count is None or not str(count).isdigit():
        raise RuntimeError(
            "accelerate started one CPU process but was asked for several; start them with "
            "`accelerate launch --cpu --num_processes N -m core.train ...` or `torchrun --nproc_per_node N -m core.train ...`."
        )
    return int(count) if int(count) > 1 else 0


def _configured_processes(config_file: str | None) -> str | None:
    """num_processes from an accelerate config file (the default one when none is named)."""
    import yaml
    from accelerate.commands.config import default_config_file

    path = Path(config_file or default_config_file)
    try:
        value = (yaml.safe_load(path.read_text()) or {}).get("num_processes")
    except (OSError, yaml.YAMLError):
        return None
    return None if value is None else str(value)


def start_processes(count: int, argv: list[str]) -> None:
    """Run `python -m core.train <argv>` as `count` processes on this machine (returns when all have ended;
    raises if one fails)."""
    from torch.distributed.run import main as torchrun

    os.environ.pop("MASTER_ADDR", None)  # --standalone picks a free local address and port
    torchrun(["--standalone", "--nproc_per_node", str(count), "-m", "core.train", *argv])


# ---- keeping the processes in step (data parallel) ----------------------------------------------------------------


def average_gradients(params: list[torch.Tensor], processes: int) -> None:
    """Data parallel: every process's gradients replaced by their mean over the processes (one all-reduce)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= processes
    for g, part in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(part.view_as(g))


def models_differ(models: dict[str, torch.nn.Module]) -> list[str]:
    """Names of the weights that are not the same on every process (data parallel keeps them equal: a check)."""
    differ = []
    for model_name, module in models.items():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            low, high = tensor.detach().clone(), tensor.detach().clone()
            torch.distributed.all_reduce(low, op=torch.distributed.ReduceOp.MIN)
            torch.distributed.all_reduce(high, op=torch.distributed.ReduceOp.MAX)
            if not torch.equal(low, high) and "running_" not in name:  # BatchNorm statistics stay per process
                differ.append(f"{model_name}.{name}")
    return differ


def broadcast_models(models: dict[str, torch.nn.Module]) -> None:
    """Every process starts from the first process's weights."""
    for module in models.values():
        for tensor in module.state_dict().values():
            torch.distributed.broadcast(tensor, src=0)
