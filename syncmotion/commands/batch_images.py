"""Image jobs of `syncmotion batch`: a JSONL line with a "prompt" is a wide image, made as `syncmotion wide` makes it.

A line takes `prompt`, `model` (a diffusers Stable Diffusion folder, relative to the JSONL file), the size as
`size` ("2048x512", width x height, or [2048, 512]) or `width`/`height`, and any option of `syncmotion wide` by its
name (`window`, `stride`, `wrap`, `guidance`, `negative_prompt`, `steps`, `strategy`, `inv_lambda`, `seed`, ...).
The batch command's --steps, --strategy, --inv-lambda, --lambda-schedule, --seed, --guidance and --device are the
defaults of image jobs too; the others fall back to `syncmotion wide`'s defaults.
"""

from __future__ import annotations

import json
import re
from functools import partial
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from syncmotion.engine import STRATEGIES
from syncmotion.engine.strategies import LAMBDA_SCHEDULES

from .image_options import check_panorama
from .params import POSITIVE, SEED, FiniteFloat

PANORAMA_FILE = "panorama.png"
# `syncmotion wide`'s defaults, for what neither the line nor the batch command sets.
WIDE_DEFAULTS: dict[str, Any] = {"width": 2048, "height": 512, "window": 64, "stride": 16, "wrap": False, "steps": 50,
                                 "guidance": 7.5, "negative_prompt": "", "seed": 0, "max_batch": None}
# The batch command's options that image jobs take as their defaults too.
SHARED_DEFAULTS = ("strategy", "inv_lambda", "lambda_schedule", "steps", "seed", "guidance", "device")
_TYPES: dict[str, click.ParamType] = {
    "width": click.IntRange(min=1), "height": click.IntRange(min=1), "window": click.IntRange(min=1),
    "stride": click.IntRange(min=1), "wrap": click.BOOL, "guidance": FiniteFloat(min=0), "negative_prompt": click.STRING,
    "max_batch": click.IntRange(min=1), "strategy": click.Choice(sorted(STRATEGIES)), "inv_lambda": POSITIVE,
    "lambda_schedule": click.Choice(LAMBDA_SCHEDULES), "steps": click.IntRange(min=1), "seed": SEED,
    # Resolved by the worker that runs the job: its GPUs are the ones Ray gives it, not this machine's.
    "device": click.STRING,
}
IMAGE_LINE_KEYS = ("id", "prompt", "model", "size", *_TYPES)
_SIZE = re.compile(r"\s*(\d+)\s*[x×]\s*(\d+)\s*")


@dataclass(frozen=True)
class ImageJob:
    """One wide image to make, checked: the prompt, its size and window layout, the model and how to sample."""

    prompt: str
    model: str
    width: int
    height: int
    window: int
    stride: int
    wrap: bool
    strategy: str
    inv_lambda: float
    lambda_schedule: str
    steps: int
    guidance: float
    negative_prompt: str
    seed: int
    max_batch: int | None
    device: str

    def settings(self) -> dict[str, Any]:
        """What the job asks for, as its output manifest records it."""
        return asdict(self)


def _size(value: Any, where: str) -> tuple[int, int]:
    """(width, height) from "WxH" or [W, H]."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value[0], value[1]
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{where}: \"size\" {value!r} is not a size; give width x height, e.g. \"2048x512\" or [2048, 512]")
    return int(match[1]), int(match[2])


def line_value(key: str, value: Any, where: str, convert: Callable[[Any], Any]) -> Any:
    """A JSONL line's `value` for `key` through `convert` (an option's check), or a ValueError one-liner naming the line."""
    if value is None or isinstance(value, (dict, list)):
        raise ValueError(f"{where}: \"{key}\" must be a single value, got {json.dumps(value)}")
    try:
        return convert(value)
    except click.BadParameter as error:
        raise ValueError(f"{where}: \"{key}\": {error.format_message()}") from None


def image_job(entry: Mapping[str, Any], where: str, base: Path, defaults: Mapping[str, Any]) -> ImageJob:
    """The image job of a line (keys with '_', paths relative to `base`), or a ValueError one-liner naming the line."""
    unknown = sorted(set(entry) - set(IMAGE_LINE_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} for an image job; it takes {', '.join(IMAGE_LINE_KEYS)}")
    prompt = entry["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"{where}: \"prompt\" is empty; give a text describing the image")
    model = entry.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError(f"{where}: an image job needs \"model\": a diffusers Stable Diffusion folder (relative to the JSONL file)")
    folder = base / model
    if not (folder / "model_index.json").is_file():
        raise ValueError(f"{where}: \"model\" {model} is not a diffusers Stable Diffusion folder (no model_index.json); "
                         "give the folder of a saved pipeline")
    shared = {key: defaults[key] for key in SHARED_DEFAULTS if defaults.get(key) is not None}
    given = {key: line_value(key, value, where, partial(_TYPES[key].convert, param=None, ctx=None))
             for key, value in entry.items() if key in _TYPES}
    values = {**WIDE_DEFAULTS, **shared, **given}
    if "size" in entry:
        if "width" in entry or "height" in entry:
            raise ValueError(f"{where}: give \"size\" or \"width\"/\"height\", not both")
        values["width"], values["height"] = _size(entry["size"], where)
    if values["strategy"] not in STRATEGIES:
        raise ValueError(f"{where}: strategy {values['strategy']!r} makes motions only; give an image job a \"strategy\" "
                         f"of {', '.join(sorted(STRATEGIES))}")
    try:
        check_panorama(values["height"], values["width"], values["window"], values["stride"], values["wrap"], '"window"')
    except click.UsageError as error:
        raise ValueError(f"{where}: {error.format_message()}") from None
    return ImageJob(prompt=prompt.strip(), model=str(folder.absolute()), **{key: values[key] for key in (
        "width", "height", "window", "stride", "wrap", "strategy", "inv_lambda", "lambda_schedule", "steps", "guidance",
        "negative_prompt", "seed", "max_batch", "device")})
