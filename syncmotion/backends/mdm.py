"""MDM text-to-motion checkpoints as an engine denoiser: loading, diffusion schedule, classifier-free guidance."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from syncmotion.devices import resolve_precision
from syncmotion.engine.ddim import DDIM
from syncmotion.motion.features import FEATURE_DIM, Normalizer
from syncmotion.motion.skeleton import FPS
from syncmotion.safe_pickle import TORCH_LOAD_ERRORS, torch_load_reason

from .mdm_network import POSITIONAL_KEYS, MDMConfig, MDMNetwork

# HumanML3D clips are at most 196 frames (9.8 s at 20 fps): MDM never saw longer windows.
MDM_MAX_FRAMES = 196


def with_bfloat16_matrices(network: MDMNetwork) -> MDMNetwork:
    """A copy of `network` whose matrix-product weights are bfloat16: under autocast, the same arithmetic without
    casting them again on every call (which was a tenth of the embedded model's sampling on a 2-core CPU)."""
    # Autocast casts a float32 weight to bfloat16 for each linear layer and attention projection it runs; a weight
    # that is bfloat16 already is used as it is, and rounds to the same values, so the results are bit-identical
    # (tests/test_mdm.py). Everything autocast keeps in float32 (layer norms, additions) keeps its float32 weights.
    copied = copy.deepcopy(network)
    for module in copied.modules():
        parameters = ([module.weight, module.bias] if isinstance(module, torch.nn.Linear)
                      else [module.in_proj_weight, module.in_proj_bias] if isinstance(module, torch.nn.MultiheadAttention)
                      else [])
        for parameter in parameters:
            if parameter is not None:
                parameter.data = parameter.data.to(torch.bfloat16)
    return copied


class MDMDenoiser:
    """An MDM network plus a text encoder as an x0-predicting denoiser with batched classifier-free guidance."""

    prediction_type = "sample"

    def __init__(self, network: MDMNetwork, text_encoder: Callable[[Sequence[str]], torch.Tensor], guidance: float = 2.5,
                 precision: str = "float32") -> None:
        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"MDMDenoiser runs in float32 or bfloat16, not {precision!r}")
        self.network = network.eval()
        self.text_encoder = text_encoder
        self.guidance = guidance
        self.precision = precision
        self._bfloat16_network = with_bfloat16_matrices(self.network) if precision == "bfloat16" else None

    def _network(self, sample: torch.Tensor, timesteps: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The network's x0 in float32, its matrix products in bfloat16 when asked (guidance is mixed in float32)."""
        if self._bfloat16_network is None:
            return self.network(sample, timesteps, text)
        with torch.autocast(sample.device.type, dtype=torch.bfloat16):
            return self._bfloat16_network(sample, timesteps, text).float()

    @torch.inference_mode()
    def __call__(self, sample: torch.Tensor, timesteps: torch.Tensor, conds: Sequence[str]) -> torch.Tensor:
        """Guided x0 for windows [B, 263, 1, T] conditioned on one prompt each."""
        # The two ends of the guidance scale need one half of the batch only: the text-free or the text-conditioned.
        if self.guidance == 0.0:  # the prompts are not even embedded (DoubleTake's second take, "" everywhere)
            return self._network(sample, timesteps, sample.new_zeros(len(conds), self.network.config.text_dim))
        text = self.text_encoder(list(conds)).to(sample)
        if self.guidance == 1.0:
            return self._network(sample, timesteps, text)
        both = self._network(torch.cat([sample, sample]), torch.cat([timesteps, timesteps]),
                             torch.cat([text, torch.zeros_like(text)]))
        conditional, unconditional = both.chunk(2)
        return unconditional + self.guidance * (conditional - unconditional)


@dataclass
class MotionBackend:
    """Everything generation needs from a text-to-motion model."""

    network: MDMNetwork
    text_encoder: Callable[[Sequence[str]], torch.Tensor]
    normalizer: Normalizer
    scheduler: DDIM
    window: int
    name: str
    default_steps: int = 50  # steps of its default sampling (default_scheduler)
    model_steps: int = 50  # steps with the model's own scheduler ("model")
    default_guidance: float = 2.5
    default_scheduler: str = "model"
    precision: str = "float32"  # how the network runs: "float32" or "bfloat16" (devices.resolve_precision)
    fps: float = FPS
    info: dict[str, Any] = field(default_factory=dict)

    def denoiser(self, guidance: float | None = None) -> MDMDenoiser:
        """The engine's view of this model at a guidance scale (None: its default)."""
        return MDMDenoiser(self.network, self.text_encoder, self.default_guidance if guidance is None else guidance,
                           self.precision)


def diffusion_scheduler(noise_schedule: str, diffusion_steps: int) -> DDIM:
    """A DDIM scheduler over MDM's training schedule (x0-prediction, no clipping, MDM's step spacing)."""
    if noise_schedule == "cosine":
        betas = {"beta_schedule": "squaredcos_cap_v2"}
    elif noise_schedule == "linear":
        # improved-diffusion's linear schedule, rescaled to the number of steps as MDM does.
        scale = 1000 / diffusion_steps
        betas = {"beta_schedule": "linear", "beta_start": scale * 0.0001, "beta_end": scale * 0.02}
    else:
        raise ValueError(f"unsupported noise_schedule {noise_schedule!r} in args.json: syncmotion supports cosine and linear")
    return DDIM(
        num_train_timesteps=diffusion_steps, prediction_type="sample", set_alpha_to_one=True,
        steps_offset=0, timestep_spacing="leading", **betas,
    )


def read_mdm_args(checkpoint: Path) -> dict[str, Any]:
    """The args.json beside an MDM checkpoint, checked for an architecture syncmotion supports."""
    args_path = checkpoint.parent / "args.json"
    if not args_path.exists():
        raise FileNotFoundError(f"no args.json beside {checkpoint}: MDM checkpoints come with args.json in the same folder")
    args = json.loads(args_path.read_text())
    arch = args.get("arch", "trans_enc")
    if arch != "trans_enc":
        raise ValueError(f"MDM architecture {arch!r} is not supported: syncmotion runs the trans_enc models (e.g. humanml_trans_enc_512)")
    encoder = args.get("text_encoder_type", "clip")
    if encoder != "clip":
        raise ValueError(f"MDM text encoder {encoder!r} is not supported: syncmotion runs the CLIP-conditioned models")
    if args.get("dataset", "humanml") != "humanml":
        raise ValueError(f"MDM dataset {args.get('dataset')!r} is not supported: syncmotion runs HumanML3D (263-dim) models")
    if args.get("unconstrained", False) or args.get("cond_mode", "text") not in ("text", None):
        raise ValueError("this MDM checkpoint is not text-conditioned: syncmotion needs a text-to-motion model")
    return args


def mdm_config(args: dict[str, Any]) -> MDMConfig:
    """The network settings an args.json implies (MDM's defaults where a setting is absent)."""
    return MDMConfig(
        njoints=FEATURE_DIM, nfeats=1, latent_dim=int(args.get("latent_dim", 512)),
        ff_size=int(args.get("ff_size", 1024)), layers=int(args.get("layers", 8)), heads=int(args.get("heads", 4)),
        dropout=float(args.get("dropout", 0.1)), activation=str(args.get("activation", "gelu")),
        text_dim=int(args.get("clip_dim", 512)), cond_mask_prob=float(args.get("cond_mask_prob", 0.1)),
    )


def read_state_dict(checkpoint: Path) -> dict[str, torch.Tensor]:
    """Weights from an MDM .pt (preferring the EMA `model_avg`) or a converted .safetensors file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not checkpoint.exists():
        raise FileNotFoundError(f"no MDM checkpoint at {checkpoint}: pass --model PATH/modelXXXXXXXXX.pt")
    try:
        if checkpoint.suffix == ".safetensors":
            return load_file(checkpoint)
        loaded = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except SafetensorError as error:
        raise ValueError(f"{checkpoint} is not a safetensors file ({error})") from None
    except TORCH_LOAD_ERRORS as error:
        raise ValueError(f"{checkpoint} is not a PyTorch checkpoint of plain tensors ({torch_load_reason(error)})") from None
    if isinstance(loaded, dict) and "model_avg" in loaded:
        loaded = loaded["model_avg"]
    elif isinstance(loaded, dict) and "model" in loaded:
        loaded = loaded["model"]
    if not isinstance(loaded, dict):
        raise ValueError(f"{checkpoint} does not hold a state dict: expected an MDM modelXXXXXXXXX.pt")
    return loaded


def load_weights(network: MDMNetwork, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy official-layout weights into `network`; any missing, extra or misshaped key is an error."""
    # CLIP is frozen and left out of MDM checkpoints; the positional tables are fixed sinusoids rebuilt locally.
    wanted = {k: v for k, v in state.items() if not k.startswith("clip_model.") and k not in POSITIONAL_KEYS}
    own = {k: v for k, v in network.state_dict().items() if k not in POSITIONAL_KEYS}
    missing = sorted(set(own) - set(wanted))
    extra = sorted(set(wanted) - set(own))
    if missing or extra:
        raise ValueError(
            f"{source} does not match the MDM trans_enc layout: missing keys {missing[:5]}, unexpected keys {extra[:5]}"
            f"{' (and more)' if len(missing) > 5 or len(extra) > 5 else ''}; is args.json the one saved with it?"
        )
    for key, value in wanted.items():
        if value.shape != own[key].shape:
            raise ValueError(f"{source}: {key} has shape {tuple(value.shape)}, args.json implies {tuple(own[key].shape)}")
    network.load_state_dict({**network.state_dict(), **wanted})


def load_mdm(checkpoint: str | Path, meta: str | Path, clip: str | Path, device: str = "cpu",
             precision: str = "float32") -> MotionBackend:
    """An official MDM HumanML3D checkpoint with its mean/std folder and a CLIP text model, ready to generate.

    `precision` "auto" means float32 here: MDM's quality in bfloat16 has not been measured.
    """
    from .clip_text import CLIPTextEncoder  # transformers is imported only when a CLIP model is loaded

    checkpoint = Path(checkpoint)
    args = read_mdm_args(checkpoint)
    network = MDMNetwork(mdm_config(args))
    load_weights(network, read_state_dict(checkpoint), str(checkpoint))
    normalizer = Normalizer.load(meta)
    steps = int(args.get("diffusion_steps", 1000))
    text_encoder = CLIPTextEncoder(clip, device=device)
    if text_encoder.dim != network.config.text_dim:
        raise ValueError(f"the CLIP model at {clip} gives {text_encoder.dim}-dim embeddings; "
                         f"the checkpoint expects {network.config.text_dim}")
    return MotionBackend(
        network=network.to(device).eval(), text_encoder=text_encoder, normalizer=normalizer,
        scheduler=diffusion_scheduler(args.get("noise_schedule", "cosine"), steps),
        window=MDM_MAX_FRAMES, name=f"mdm:{checkpoint.name}", default_steps=min(50, steps), model_steps=min(50, steps),
        precision="float32" if precision == "auto" else resolve_precision(precision, device), info={"args": args},
    )
