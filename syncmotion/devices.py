"""Which torch device a model runs on: the user's choice checked before any work, or the best one present."""

from __future__ import annotations

SUPPORTED = ("cpu", "cuda", "mps")
# How a model's network runs: "auto" picks bfloat16 where the hardware does it natively, else float32.
PRECISIONS = ("auto", "float32", "bfloat16")
# CPU flags (Linux /proc/cpuinfo) of instructions that do bfloat16 dot products natively: oneDNN then runs a
# network's matrix products in bfloat16 at about twice float32's speed. Without them it emulates, for no gain.
NATIVE_BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def default_device() -> str:
    """The device a model runs on by default: the first GPU when there is one."""
    import torch  # here, not above: the command line checks --device while reading options, before it needs torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(name: str | None) -> str:
    """The torch device named `name` ("auto" or None: the default), or a ValueError saying why it cannot be used."""
    import torch

    if name is None or name == "auto":
        return default_device()
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name!r} is not a torch device; use cpu, cuda, cuda:1 or mps") from None
    if device.type not in SUPPORTED:
        raise ValueError(f"models cannot run on the {device.type!r} device; use cpu, cuda or mps")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name}: this machine has no CUDA GPU that torch can use (torch {torch.__version__}); use --device cpu")
        if device.index is not None and device.index >= count:
            choices = "cuda:0" + (f" to cuda:{count - 1}" if count > 1 else "")
            raise ValueError(f"{name}: this machine has {count} CUDA GPU(s), numbered from 0; use {choices}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}: Apple's MPS backend is not available here; use --device cpu")
    return str(device)


def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def has_native_bfloat16(device: str) -> bool:
    """Whether networks on `device` run faster in bfloat16 here: a CPU with bfloat16 instructions and oneDNN."""
    import torch

    return torch.device(device).type == "cpu" and torch.backends.mkldnn.is_available() and \
        bool(_cpu_flags() & NATIVE_BFLOAT16_FLAGS)


def resolve_precision(name: str, device: str) -> str:
    """"float32" or "bfloat16" for a `name` of PRECISIONS on `device` ("auto": bfloat16 where it is native on a CPU)."""
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bfloat16" if has_native_bfloat16(device) else "float32"
    if name == "bfloat16" and device.startswith("cuda"):
        import torch

        if torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
            raise ValueError(f"{device} has no bfloat16 arithmetic; use --precision float32")
    return name
