"""What every benchmark result records about where it ran, and how results are printed and saved."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from astro.device import resolve_device
from astro.paths import PROJECT_ROOT

console = Console()


def machine() -> dict[str, str | int]:
    device = resolve_device("auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    return {
        "device": str(device),
        "device_name": name,
        "cpu_cores": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def save_result(result: dict, name: str) -> Path:
    out = PROJECT_ROOT / "outputs" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    table = Table(
        title=f"{result['benchmark']} on {result['machine']['device_name']} "
        f"({result['machine']['cpu_cores']} cores, {result['machine']['device']})"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in _flat(result).items():
        if not key.startswith(("machine", "all_rounds")):
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"written {path}")
    return path


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
