"""CLIP ViT-B/32 text embeddings as MDM computes them, through transformers, cached per prompt."""

from __future__ import annotations

import gzip
import importlib.util
import re
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from syncmotion.safe_pickle import TORCH_LOAD_ERRORS, StandIn, load_pickle, torch_load_reason

from .text_cache import CachedTextEncoder

if TYPE_CHECKING:
    from transformers import CLIPTextModelWithProjection, CLIPTokenizer

# MDM cuts HumanML3D prompts to 20 tokens plus start and end, then zero-pads to CLIP's context.
MDM_TEXT_TOKENS = 20
# OpenAI's BPE merges file: OpenAI-layout weights come without a tokenizer, and OpenAI's `clip` package and
# open_clip both ship this file.
CLIP_BPE = "bpe_simple_vocab_16e6.txt.gz"
BPE_PACKAGES = ("clip", "open_clip")
CLIP_FORMS = ("--clip takes a transformers CLIP folder (config.json, weights, vocab.json, merges.txt) or OpenAI's "
              "ViT-B-32.pt (the clip or open_clip cache file, or its state dict as .pt or .safetensors)")


class CLIPTextEncoder(CachedTextEncoder):
    """Projected CLIP text embeddings [B, projection_dim] with MDM's tokenization."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", max_text_tokens: int = MDM_TEXT_TOKENS) -> None:
        super().__init__()
        self.tokenizer, model = load_clip_text(Path(path))
        self.model = model.eval().to(device)
        self.device = torch.device(device)
        self.width = self.model.config.max_position_embeddings
        self.context_length = min(max_text_tokens + 2, self.width)
        self.dim = self.model.config.projection_dim

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids [B, 77]: start, at most 20 text tokens, end, then zeros up to CLIP's context (MDM's padding)."""
        ids = self.tokenizer(list(texts), max_length=self.context_length, truncation=True)["input_ids"]
        tokens = torch.zeros(len(ids), self.width, dtype=torch.long)
        for row, sequence in enumerate(ids):
            tokens[row, : len(sequence)] = torch.tensor(sequence)
        return tokens

    @torch.inference_mode()
    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenize(texts).to(self.device)
        # No attention mask on purpose: CLIP's causal mask already hides the zero padding after the end token.
        return self.model(input_ids=tokens).text_embeds.float()


def load_clip_text(path: Path) -> tuple[CLIPTokenizer, CLIPTextModelWithProjection]:
    """The tokenizer and projected text tower from a transformers CLIP folder or an OpenAI-layout CLIP file."""
    from transformers import CLIPTextModelWithProjection, CLIPTokenizer

    if (path / "config.json").exists():
        try:
            return CLIPTokenizer.from_pretrained(path), CLIPTextModelWithProjection.from_pretrained(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"cannot load the CLIP folder {path} ({first_line}); {CLIP_FORMS}") from None
    if not path.is_file():
        raise FileNotFoundError(f"no CLIP model at {path}: {CLIP_FORMS}")
    model = openai_text_model(read_openai_clip(path), str(path))
    return openai_tokenizer(find_clip_bpe(path), model.config.vocab_size), model


def read_openai_clip(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of an OpenAI-layout CLIP file: TorchScript archive, torch.save'd state dict or safetensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        if path.suffix == ".safetensors":
            state = load_file(path)
        elif zipfile.is_zipfile(path) and _is_torchscript(path):
            # OpenAI's clip cache is a TorchScript archive, which torch.load(weights_only=True) refuses and
            # torch.jit.load would run; only its tensors are used.
            state = torchscript_tensors(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (*TORCH_LOAD_ERRORS, SafetensorError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"cannot read CLIP weights from {path} ({torch_load_reason(error)}); {CLIP_FORMS}") from None
    if not isinstance(state, dict) or "token_embedding.weight" not in state:
        raise ValueError(f"{path} is not an OpenAI-layout CLIP file (no token_embedding.weight); {CLIP_FORMS}")
    return {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}


def _strided_view(storage: torch.Tensor, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> torch.Tensor:
    """A tensor of data.pkl as a view of its storage (torch refuses views that reach outside it)."""
    return storage.as_strided(size, stride, offset)


def _unchanged(value: Any, *_: Any) -> Any:
    """The value that TorchScript's list and dict helpers tag with a static type, which only TorchScript needs."""
    return value


# What data.pkl in a TorchScript archive pickles besides its own __torch__ classes: tensors over storages (the
# storage classes read as their dtypes), typed lists and dicts, devices and the tensors' empty hook dicts.
_TORCHSCRIPT_GLOBALS: dict[str, Any] = {
    "torch._utils._rebuild_tensor_v2": _strided_view, "collections.OrderedDict": OrderedDict, "torch.device": torch.device,
    **{f"torch.jit._pickle.{name}": _unchanged
       for name in ("build_intlist", "build_doublelist", "build_boollist", "build_tensorlist", "restore_type_tag")},
    **{f"torch.{name}Storage": dtype for name, dtype in (
        ("Double", torch.float64), ("Float", torch.float32), ("Half", torch.float16), ("BFloat16", torch.bfloat16),
        ("Long", torch.int64), ("Int", torch.int32), ("Short", torch.int16), ("Char", torch.int8), ("Byte", torch.uint8),
        ("Bool", torch.bool))},
}
# TorchScript's code for a module class starts by listing which of its attributes are parameters and buffers.
_MODULE_CLASS = re.compile(r'^class (\w+)\(Module\):\n  __parameters__ = \[(.*)\]\n(?:  __buffers__ = \[(.*)\]\n)?', re.MULTILINE)


def torchscript_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The parameters and buffers of a TorchScript archive, named as torch.jit.load(path).state_dict() names them."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        prefix = next((name[: -len("/data.pkl")] for name in names if name.endswith("/data.pkl") and name.count("/") == 1), None)
        if prefix is None:
            raise ValueError("the TorchScript archive has no data.pkl")
        declared: dict[str, list[str]] = {}
        for name in names:
            if name.startswith(f"{prefix}/code/") and name.endswith(".py"):
                module = name[len(f"{prefix}/code/") : -len(".py")].replace("/", ".")
                for match in _MODULE_CLASS.finditer(archive.read(name).decode("utf-8")):
                    declared[f"{module}.{match[1]}"] = re.findall(r'"([^"]*)"', match[2] + (match[3] or ""))
        storages: dict[str, torch.Tensor] = {}

        def storage(saved_id: tuple[str, torch.dtype, str, str, int]) -> torch.Tensor:
            kind, dtype, key, _location, _numel = saved_id
            if kind != "storage" or not isinstance(dtype, torch.dtype):
                raise ValueError(f"unexpected persistent id {saved_id!r}")
            if key not in storages:
                data = bytearray(archive.read(f"{prefix}/data/{key}"))
                storages[key] = torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)
            return storages[key]

        with archive.open(f"{prefix}/data.pkl") as file:
            root = load_pickle(file, _TORCHSCRIPT_GLOBALS, stand_ins=("__torch__",), persistent_load=storage)
    if not isinstance(root, StandIn) or root.class_name not in declared:
        raise ValueError("data.pkl does not hold a TorchScript module")
    return dict(_module_tensors(root, declared, ""))


def _module_tensors(module: StandIn, declared: dict[str, list[str]], prefix: str,
                    ancestors: tuple[StandIn, ...] = ()) -> Iterator[tuple[str, torch.Tensor]]:
    """(dotted name, tensor) for a module's parameters and buffers, then its submodules', in Module.state_dict's order."""
    state = module.state
    if not isinstance(state, dict):
        if declared[module.class_name]:
            raise ValueError(f"{module.class_name} keeps its tensors in __getstate__ state, which only TorchScript can read")
        return
    for name in declared[module.class_name]:
        if isinstance(state.get(name), torch.Tensor):
            yield prefix + name, state[name].detach()
    for name, value in state.items():
        if isinstance(value, StandIn) and value.class_name in declared:
            if value is module or value in ancestors:
                raise ValueError(f"the module {prefix}{name} contains itself")
            yield from _module_tensors(value, declared, f"{prefix}{name}.", (*ancestors, module))


def _is_torchscript(path: Path) -> bool:
    """Whether a zip checkpoint is a TorchScript archive (it has constants.pkl, as torch itself checks)."""
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/", 1)[-1] == "constants.pkl" for name in archive.namelist())


def openai_text_model(state: dict[str, torch.Tensor], source: str) -> CLIPTextModelWithProjection:
    """CLIP's text tower from OpenAI-layout weights, its settings read off the tensor shapes as OpenAI's build_model does."""
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    vocab_size, width = state["token_embedding.weight"].shape
    if width % 64:
        raise ValueError(f"{source}: text width {width} is not a multiple of 64, the head size of OpenAI's CLIP")
    layers = len({key.split(".")[2] for key in state if key.startswith("transformer.resblocks.")})
    names = _openai_names(layers)
    packed = [f"transformer.resblocks.{i}.attn.in_proj_{kind}" for i in range(layers) for kind in ("weight", "bias")]
    missing = [key for key in (*names.values(), *packed, "text_projection") if key not in state]
    if not layers:
        missing.append("transformer.resblocks.0.*")
    if missing:
        raise ValueError(f"{source} is not a complete OpenAI-layout CLIP text tower: missing {missing[:5]}")
    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=width, num_attention_heads=width // 64, num_hidden_layers=layers,
        intermediate_size=state["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        max_position_embeddings=state["positional_embedding"].shape[0],
        projection_dim=state["text_projection"].shape[1], hidden_act="quick_gelu", layer_norm_eps=1e-5,
        # OpenAI's vocabulary ends with the start and end tokens.
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1,
    )
    weights = {ours: state[theirs] for ours, theirs in names.items()}
    for i in range(layers):
        for kind in ("weight", "bias"):
            # OpenAI keeps query, key and value in one packed projection (torch's MultiheadAttention layout).
            parts = state[f"transformer.resblocks.{i}.attn.in_proj_{kind}"].chunk(3)
            for name, part in zip(("q_proj", "k_proj", "v_proj"), parts):
                weights[f"text_model.encoder.layers.{i}.self_attn.{name}.{kind}"] = part
    # OpenAI multiplies by text_projection [width, dim]; nn.Linear stores the transpose.
    weights["text_projection.weight"] = state["text_projection"].T
    # OpenAI's archive stores float16; the transformers folder path computes in float32, and so does this one.
    weights = {key: value.float() for key, value in weights.items()}
    model = CLIPTextModelWithProjection(config)
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise ValueError(f"{source}: the text tower's tensor shapes disagree ({str(error).splitlines()[-1].strip()})") from None
    return model


def _openai_names(layers: int) -> dict[str, str]:
    """transformers' CLIP text key for each OpenAI key that maps one to one."""
    names = {
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
    }
    pairs = (("layer_norm1", "ln_1"), ("self_attn.out_proj", "attn.out_proj"), ("layer_norm2", "ln_2"),
             ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"))
    for i in range(layers):
        for ours, theirs in pairs:
            for kind in ("weight", "bias"):
                names[f"text_model.encoder.layers.{i}.{ours}.{kind}"] = f"transformer.resblocks.{i}.{theirs}.{kind}"
    return names


def find_clip_bpe(weights: Path) -> Path:
    """OpenAI's BPE file: beside the weights, else the copy an installed `clip` or `open_clip` package ships."""
    candidates = [weights.parent / CLIP_BPE]
    for package in BPE_PACKAGES:
        # find_spec locates a package without importing it (importing open_clip needs torchvision).
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            candidates += [Path(folder) / CLIP_BPE for folder in spec.submodule_search_locations]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no CLIP tokenizer for {weights}: put {CLIP_BPE} beside it, or install a package that ships it "
        "(`pip install --no-deps open_clip_torch`, or OpenAI's clip)"
    )


def openai_tokenizer(bpe: Path, vocab_size: int) -> CLIPTokenizer:
    """CLIP's tokenizer from OpenAI's BPE merges file, with as many merges as the weights' vocabulary holds."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    # OpenAI's vocabulary is implied by the merges: the 256 byte symbols, each again with the end-of-word mark,
    # one token per merge in rank order, then the start and end tokens.
    wanted = vocab_size - 2 * 256 - 2
    try:
        with gzip.open(bpe, "rt", encoding="utf-8") as file:
            lines = file.read().split("\n")[1 : 1 + wanted]  # the first line is a version header
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {bpe} as OpenAI's gzipped BPE merges file ({error})") from None
    merges = [tuple(line.split()) for line in lines]
    if len(merges) < wanted or any(len(merge) != 2 for merge in merges):
        raise ValueError(f"{bpe} does not hold the {wanted} BPE merges that a {vocab_size}-token CLIP vocabulary needs")
    symbols = list(bytes_to_unicode().values())
    tokens = [*symbols, *(symbol + "</w>" for symbol in symbols), *("".join(merge) for merge in merges),
              "<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: index for index, token in enumerate(tokens)}, merges=merges)
