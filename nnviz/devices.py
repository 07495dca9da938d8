"""Which torch devices this machine can use, with human-readable names, and a safe resolver."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    id: str  # the string torch.device accepts: "cpu", "cuda:0", "mps"
    name: str  # what a student reads: the GPU's model name, or the CPU


def available_devices() -> list[DeviceInfo]:
    """Every device torch can use here, cpu first; only the ones that are really available."""
    devices = [DeviceInfo("cpu", "CPU")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            devices.append(DeviceInfo(f"cuda:{i}", torch.cuda.get_device_name(i)))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(DeviceInfo("mps", "Apple GPU (Metal)"))
    return devices


def resolve_device(requested: str) -> tuple[torch.device, str | None]:
    """The device to compute on, and a notice when the requested one is not available here."""
    ids = [d.id for d in available_devices()]
    if requested == "cuda" and any(i.startswith("cuda:") for i in ids):
        requested = "cuda:0"
    if requested in ids:
        return torch.device(requested), None
    return torch.device("cpu"), f"Device '{requested}' is not available on this server; using cpu."


def device_spec():
    """The sidebar's device control: only the devices available on this machine."""
    from .controls import ChoiceSpec

    return ChoiceSpec("Device", tuple(d.id for d in available_devices()), "cpu",
                      help="Where torch computes. Only devices available on this server are listed.")
