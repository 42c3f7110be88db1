"""What this machine can run: ``trainer`` settings that ask for absent hardware become one-line errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from seqkit.errors import SeqkitError, one_line

GPU_NAMES = ("gpu", "cuda")


class EnvironmentMismatch(SeqkitError):
    """The recipe asks for hardware or a precision this machine does not have."""


def machine() -> str:
    """What this machine offers, in words: CPU cores and CUDA GPUs (with their indices)."""
    cores = os.cpu_count() or 1
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names = ", ".join(f"{i}: {torch.cuda.get_device_name(i)}" for i in range(count))
        return f"this machine has {cores} CPU cores and {count} CUDA GPU(s) ({names})"
    build = "a CPU-only build of torch" if torch.version.cuda is None else f"torch built for CUDA {torch.version.cuda}"
    return f"this machine has {cores} CPU cores and no CUDA GPU ({build} {torch.__version__})"


def _indices(devices: Any) -> list[int] | None:
    """The device indices *devices* names (``[1]``, ``"0,2"``), or None when it is a count or ``auto``."""
    if isinstance(devices, (list, tuple)):
        return [int(d) for d in devices if isinstance(d, int) or str(d).strip().isdigit()]
    if isinstance(devices, str) and "," in devices:
        return [int(d) for d in devices.split(",") if d.strip().isdigit()]
    return None


def check_trainer(section: Mapping[str, Any] | None) -> None:
    """Refuse, in one line naming the key, a ``trainer`` section this machine cannot honour.

    Checked before Lightning sees it, for what Lightning reports as a traceback or in several lines:
    a GPU accelerator without a GPU, a device index that does not exist, all GPUs (``devices: -1``) on the CPU.
    """
    section = section or {}
    accelerator = str(section.get("accelerator") or "auto").lower()
    devices = section.get("devices", "auto")
    wants_gpu = accelerator in GPU_NAMES
    if wants_gpu and not torch.cuda.is_available():
        raise EnvironmentMismatch(f"trainer.accelerator={accelerator}: {machine()}; use trainer.accelerator=cpu")
    if accelerator == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise EnvironmentMismatch(
            f"trainer.accelerator=mps: Apple's MPS is not available here; {machine()}; use trainer.accelerator=cpu"
        )
    indices = _indices(devices)
    if accelerator not in ("auto", "cpu", *GPU_NAMES):  # mps, tpu, ...: Lightning judges their devices
        return
    on_gpu = wants_gpu or (accelerator == "auto" and torch.cuda.is_available())
    if not on_gpu and isinstance(devices, int | str) and str(devices).strip() == "-1":
        # Lightning's CPU accelerator refuses it with a TypeError, which would read as a bug in seqkit
        raise EnvironmentMismatch(
            f"trainer.devices=-1 asks for every GPU, but the run is on the CPU, which takes a count of processes "
            f"(trainer.accelerator={accelerator}); {machine()}"
        )
    if indices is None:
        if isinstance(devices, int) and devices > 1 and wants_gpu and devices > torch.cuda.device_count():
            raise EnvironmentMismatch(f"trainer.devices={devices}: {machine()}")
        return
    available = torch.cuda.device_count() if on_gpu else 0
    absent = [i for i in indices if i >= available]
    if absent:
        what = f"device index {absent[0]} does not exist" if on_gpu else "device indices name GPUs"
        raise EnvironmentMismatch(f"trainer.devices={_shown(devices)}: {what}; {machine()}")


def _shown(value: Any) -> str:
    return "[" + ",".join(str(v) for v in value) + "]" if isinstance(value, (list, tuple)) else str(value)


@contextlib.contextmanager
def trainer_refusals(section: Mapping[str, Any] | None) -> Iterator[None]:
    """Lightning's refusal of a ``trainer`` setting (an unknown or unsupported precision, accelerator or strategy)
    as one line naming the setting and this machine, instead of an internal error."""
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    try:
        yield
    except MisconfigurationException as error:
        raise EnvironmentMismatch(f"{_culprit(section, error)}{one_line(error)[:300]}; {machine()}") from None
    except ModuleNotFoundError as error:  # an accelerator's or strategy's package (torch_xla, deepspeed)
        key = next((k for k in ("accelerator", "strategy") if (section or {}).get(k) is not None), None)
        if key is None:
            raise
        raise EnvironmentMismatch(f"trainer.{key}={section[key]}: {one_line(error)[:300]}; {machine()}") from None
    except (ValueError, TypeError) as error:  # TypeError: how an accelerator refuses devices it cannot take
        culprit = _culprit(section, error)
        if not culprit:  # not about a setting we can name: a bug, left to the CLI's internal-error path
            raise
        raise EnvironmentMismatch(f"{culprit}{one_line(error)[:300]}; {machine()}") from None


def _culprit(section: Mapping[str, Any] | None, error: Exception) -> str:
    """``"trainer.KEY=VALUE: "`` for the setting the error message mentions first (by name or value), or ``""``."""
    text = str(error).lower()
    found = []
    for key in ("precision", "accelerator", "strategy", "devices", "num_nodes"):
        value = (section or {}).get(key)
        if value is None:
            continue
        # a value is a clue only when it is not a short number that could be part of any other figure
        words = [key.rstrip("s")] + ([str(value).lower()] if len(str(value)) > 2 else [])
        places = [text.find(word) for word in words if word in text]
        if places:
            found.append((min(places), key, value))
    if not found:
        return ""
    _, key, value = min(found)
    return f"trainer.{key}={_shown(value)}: "
