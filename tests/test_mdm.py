"""MDM backend: official key layout, checkpoint loading and its errors, CLIP text path, guidance, schedule."""

from __future__ import annotations

import gzip
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from syncmotion.backends import clip_text
from syncmotion.backends.clip_text import CLIP_BPE, CLIPTextEncoder, find_clip_bpe, openai_tokenizer
from syncmotion.backends.mdm import (
    MDMDenoiser, diffusion_scheduler, load_mdm, load_weights, read_mdm_args, read_state_dict, with_bfloat16_matrices,
)
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion_lab.tiny_models.tiny_mdm import save_clip_text_model, save_identity_meta, save_official_checkpoint

TINY_ARGS = {"arch": "trans_enc", "dataset": "humanml", "latent_dim": 16, "layers": 1, "cond_mask_prob": 0.1,
             "noise_schedule": "cosine", "diffusion_steps": 1000, "text_encoder_type": "clip", "sigma_small": True}

# The names an official humanml_trans_enc checkpoint has for one encoder layer (MDM's model/mdm.py).
OFFICIAL_KEYS = {
    "sequence_pos_encoder.pe", "embed_timestep.sequence_pos_encoder.pe",
    "input_process.poseEmbedding.weight", "input_process.poseEmbedding.bias",
    "seqTransEncoder.layers.0.self_attn.in_proj_weight", "seqTransEncoder.layers.0.self_attn.in_proj_bias",
    "seqTransEncoder.layers.0.self_attn.out_proj.weight", "seqTransEncoder.layers.0.self_attn.out_proj.bias",
    "seqTransEncoder.layers.0.linear1.weight", "seqTransEncoder.layers.0.linear1.bias",
    "seqTransEncoder.layers.0.linear2.weight", "seqTransEncoder.layers.0.linear2.bias",
    "seqTransEncoder.layers.0.norm1.weight", "seqTransEncoder.layers.0.norm1.bias",
    "seqTransEncoder.layers.0.norm2.weight", "seqTransEncoder.layers.0.norm2.bias",
    "embed_timestep.time_embed.0.weight", "embed_timestep.time_embed.0.bias",
    "embed_timestep.time_embed.2.weight", "embed_timestep.time_embed.2.bias",
    "embed_text.weight", "embed_text.bias", "output_process.poseFinal.weight", "output_process.poseFinal.bias",
}


ROOT = Path(__file__).resolve().parent.parent

# A BPE merges file in OpenAI's format (version header, then merges by rank) that spells "a person walks".
TINY_MERGES = ["w a", "l k", "wa lk", "walk s</w>", "p e", "r s", "pe rs", "o n</w>", "pers on</w>"]
TINY_VOCAB = 2 * 256 + len(TINY_MERGES) + 2
# Start, "a</w>" (byte symbol 64, as in OpenAI's vocabulary), "person</w>", "walks</w>", end.
A_PERSON_WALKS = [TINY_VOCAB - 2, 320, 512 + 8, 512 + 3, TINY_VOCAB - 1]


def tiny_clip(folder):
    return save_clip_text_model(folder)


def openai_clip_state(width=128, layers=2, seed=0):
    """Random CLIP weights in OpenAI's key layout: the text tower (2 heads), plus keys the loader must ignore."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, offset=0.0):
        return offset + 0.1 * torch.randn(*shape, generator=generator)

    state = {"token_embedding.weight": rand(TINY_VOCAB, width), "positional_embedding": rand(77, width),
             "ln_final.weight": rand(width, offset=1.0), "ln_final.bias": rand(width), "text_projection": rand(width, 512),
             "visual.proj": rand(768, 512), "logit_scale": torch.tensor(4.6)}
    for i in range(layers):
        shapes = {"attn.in_proj_weight": (3 * width, width), "attn.in_proj_bias": (3 * width,),
                  "attn.out_proj.weight": (width, width), "attn.out_proj.bias": (width,),
                  "mlp.c_fc.weight": (4 * width, width), "mlp.c_fc.bias": (4 * width,),
                  "mlp.c_proj.weight": (width, 4 * width), "mlp.c_proj.bias": (width,),
                  "ln_1.bias": (width,), "ln_2.bias": (width,)}
        state.update({f"transformer.resblocks.{i}.{name}": rand(*shape) for name, shape in shapes.items()})
        state.update({f"transformer.resblocks.{i}.ln_{n}.weight": rand(width, offset=1.0) for n in (1, 2)})
    return state


def save_openai_clip(folder, state, form="pt"):
    """`state` as OpenAI's clip cache (TorchScript, float16), a torch.save'd dict or safetensors, with the BPE beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / CLIP_BPE, "wt", encoding="utf-8") as file:
        file.write("\n".join(["#version: 0.2", *TINY_MERGES, "z z"]) + "\n")
    path = folder / ("ViT-B-32.safetensors" if form == "safetensors" else "ViT-B-32.pt")
    if form == "safetensors":
        save_file(state, str(path))
    elif form == "pt":
        torch.save(state, path)
    else:
        root = nn.Module()
        for key, value in state.items():
            *parents, leaf = key.split(".")
            module = root
            for name in parents:
                if not hasattr(module, name):
                    module.add_module(name, nn.Module())
                module = getattr(module, name)
            module.register_parameter(leaf, nn.Parameter(value.half(), requires_grad=False))
        torch.jit.save(torch.jit.script(root), str(path))
    return path


def openai_encode_text(state, tokens):
    """OpenAI CLIP's encode_text (what MDM uses) written out from the weights: the reference for the loader."""
    batch, length = tokens.shape
    width = state["ln_final.weight"].shape[0]
    heads = width // 64
    x = state["token_embedding.weight"][tokens] + state["positional_embedding"]
    causal = torch.full((length, length), float("-inf")).triu(1)
    layers = len({key.split(".")[2] for key in state if key.startswith("transformer.resblocks.")})
    for i in range(layers):
        w = {key.split(".", 3)[3]: value for key, value in state.items() if key.startswith(f"transformer.resblocks.{i}.")}
        h = F.layer_norm(x, (width,), w["ln_1.weight"], w["ln_1.bias"])
        q, k, v = (part.view(batch, length, heads, 64).transpose(1, 2)
                   for part in F.linear(h, w["attn.in_proj_weight"], w["attn.in_proj_bias"]).chunk(3, dim=-1))
        attended = torch.softmax(q @ k.transpose(-1, -2) / 8 + causal, dim=-1) @ v
        x = x + F.linear(attended.transpose(1, 2).reshape(batch, length, width), w["attn.out_proj.weight"], w["attn.out_proj.bias"])
        h = F.linear(F.layer_norm(x, (width,), w["ln_2.weight"], w["ln_2.bias"]), w["mlp.c_fc.weight"], w["mlp.c_fc.bias"])
        x = x + F.linear(h * torch.sigmoid(1.702 * h), w["mlp.c_proj.weight"], w["mlp.c_proj.bias"])  # QuickGELU
    x = F.layer_norm(x, (width,), state["ln_final.weight"], state["ln_final.bias"])
    return x[torch.arange(batch), tokens.argmax(dim=-1)] @ state["text_projection"]


def official_checkpoint(folder, args=TINY_ARGS, pe_length=5000, wrap=True):
    """A random tiny MDM saved in the official layout, and the network it came from."""
    torch.manual_seed(1)
    network = MDMNetwork(MDMConfig(latent_dim=args["latent_dim"], layers=args["layers"]))
    return save_official_checkpoint(folder, args, network, pe_length, wrap), network


def meta_dir(folder):
    return save_identity_meta(folder)


def test_network_has_official_key_names():
    assert set(MDMNetwork(MDMConfig(latent_dim=16, layers=1)).state_dict()) == OFFICIAL_KEYS


def test_network_shapes_follow_mdm():
    network = MDMNetwork(MDMConfig(latent_dim=16, layers=1)).eval()
    out = network(torch.randn(3, 263, 1, 40), torch.tensor([0, 5, 999]), torch.randn(3, 512))
    assert out.shape == (3, 263, 1, 40)
    assert network.state_dict()["output_process.poseFinal.weight"].shape == (263, 16)


@pytest.mark.parametrize("wrap", [True, False])
def test_official_checkpoint_loads_with_other_positional_length(tmp_path, wrap):
    path, reference = official_checkpoint(tmp_path / "ckpt", pe_length=250, wrap=wrap)
    network = MDMNetwork(MDMConfig(latent_dim=16, layers=1))
    load_weights(network, read_state_dict(path), str(path))
    x, t, text = torch.randn(2, 263, 1, 30), torch.tensor([10, 500]), torch.randn(2, 512)
    torch.testing.assert_close(network.eval()(x, t, text), reference.eval()(x, t, text))


def test_missing_and_extra_keys_are_named(tmp_path):
    path, network = official_checkpoint(tmp_path / "ckpt")
    state = read_state_dict(path)
    broken = {k: v for k, v in state.items() if k != "embed_text.weight"}
    with pytest.raises(ValueError, match=r"missing keys \['embed_text.weight'\]"):
        load_weights(MDMNetwork(MDMConfig(latent_dim=16, layers=1)), broken, "ckpt")
    with pytest.raises(ValueError, match="unexpected keys \\['seqTransDecoder.x'\\]"):
        load_weights(MDMNetwork(MDMConfig(latent_dim=16, layers=1)), {**state, "seqTransDecoder.x": torch.zeros(1)}, "ckpt")
    with pytest.raises(ValueError, match="embed_text.weight has shape"):
        load_weights(MDMNetwork(MDMConfig(latent_dim=16, layers=1)), {**state, "embed_text.weight": torch.zeros(16, 384)}, "ckpt")


def test_clip_keys_in_checkpoint_are_ignored(tmp_path):
    path, _ = official_checkpoint(tmp_path / "ckpt")
    state = {**read_state_dict(path), "clip_model.token_embedding.weight": torch.zeros(4, 4)}
    load_weights(MDMNetwork(MDMConfig(latent_dim=16, layers=1)), state, "ckpt")


@pytest.mark.parametrize("change, message", [
    ({"arch": "trans_dec"}, "architecture 'trans_dec' is not supported"),
    ({"arch": "gru"}, "architecture 'gru' is not supported"),
    ({"text_encoder_type": "bert"}, "text encoder 'bert' is not supported"),
    ({"dataset": "kit"}, "dataset 'kit' is not supported"),
])
def test_unsupported_architectures_are_refused(tmp_path, change, message):
    path, _ = official_checkpoint(tmp_path / "ckpt", args={**TINY_ARGS, **change})
    with pytest.raises(ValueError, match=message):
        read_mdm_args(path)


def test_missing_args_json_is_named(tmp_path):
    path, _ = official_checkpoint(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "args.json").unlink()
    with pytest.raises(FileNotFoundError, match="args.json"):
        read_mdm_args(path)


def test_cosine_schedule_and_respacing_match_mdm():
    scheduler = diffusion_scheduler("cosine", 1000)

    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / 1000) / alpha_bar(i / 1000), 0.999) for i in range(1000)]
    expected = np.cumprod(1 - np.array(betas))
    np.testing.assert_allclose(scheduler.alphas_cumprod.numpy(), expected, rtol=1e-4)
    scheduler.set_timesteps(50)
    # MDM's space_timesteps(1000, "ddim50") keeps steps 0, 20, ..., 980.
    assert scheduler.timesteps.tolist() == list(range(980, -1, -20))
    assert scheduler.config.prediction_type == "sample"


def test_clip_text_uses_mdm_tokenization(tmp_path):
    encoder = CLIPTextEncoder(tiny_clip(tmp_path / "clip"))
    tokens = encoder.tokenize(["a" * 40, "hi"])
    assert tokens.shape == (2, 77)
    assert tokens[0, 0] == encoder.tokenizer.bos_token_id
    assert (tokens[0, 1:22] != 0).all() and (tokens[0, 22:] == 0).all()
    assert tokens[0, 21] == encoder.tokenizer.eos_token_id
    assert (tokens[1, 4:] == 0).all()
    # Zero padding must not change the embedding: CLIP's causal mask hides it.
    unpadded = encoder.model(input_ids=tokens[:1, :22]).text_embeds
    torch.testing.assert_close(encoder(["a" * 40]), unpadded.detach())


def test_clip_text_is_cached(tmp_path):
    encoder = CLIPTextEncoder(tiny_clip(tmp_path / "clip"))
    calls = []
    encoder.model.register_forward_hook(lambda *args: calls.append(1))
    first = encoder(["walk", "run", "walk"])
    second = encoder(["run"])
    assert len(calls) == 1
    torch.testing.assert_close(first[1], second[0])


def test_missing_clip_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="--clip"):
        CLIPTextEncoder(tmp_path / "nowhere")


# torch deprecates TorchScript, the format of OpenAI's clip cache file; reading one still works.
@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
@pytest.mark.parametrize("form", ["pt", "safetensors", "torchscript"])
def test_openai_layout_clip_matches_openai_forward(tmp_path, form):
    state = openai_clip_state()
    encoder = CLIPTextEncoder(save_openai_clip(tmp_path / "clip", state, form))
    texts = ["a person walks", "walks", "a person " * 30]
    tokens = encoder.tokenize(texts)
    assert tokens[0, :5].tolist() == A_PERSON_WALKS and (tokens[0, 5:] == 0).all()
    assert tokens[2, 21] == TINY_VOCAB - 1 and (tokens[2, 22:] == 0).all()
    # OpenAI's archive holds float16 weights, which the loader computes with in float32.
    weights = {k: v.half().float() for k, v in state.items()} if form == "torchscript" else state
    torch.testing.assert_close(encoder(texts), openai_encode_text(weights, tokens), rtol=1e-4, atol=1e-5)


def test_openai_layout_clip_drives_mdm(tmp_path):
    path, _ = official_checkpoint(tmp_path / "ckpt")
    clip = save_openai_clip(tmp_path / "clip", openai_clip_state())
    backend = load_mdm(path, meta_dir(tmp_path / "meta"), clip)
    out = backend.denoiser(2.5)(torch.randn(1, 263, 1, 20), torch.tensor([980]), ["a person walks"])
    assert out.shape == (1, 263, 1, 20) and torch.isfinite(out).all()


def test_real_clip_bpe_gives_openai_token_ids(tmp_path):
    try:
        bpe = find_clip_bpe(tmp_path / "ViT-B-32.pt")
    except FileNotFoundError:
        pytest.skip("no installed clip or open_clip package ships bpe_simple_vocab_16e6.txt.gz")
    tokenizer = openai_tokenizer(bpe, 49408)
    # The ids OpenAI's own tokenizer gives (checked against open_clip's SimpleTokenizer).
    assert tokenizer("a person walks")["input_ids"] == [49406, 320, 2533, 8192, 49407]
    assert tokenizer("A man jumps forward, then turns around!")["input_ids"][1:-1] == [320, 786, 18911, 2342, 267, 1594, 3185, 1630, 256]
    assert tokenizer("someone does a cartwheel")["input_ids"][1:-1] == [2100, 1897, 320, 27705, 6744]


@pytest.mark.parametrize("content, message", [
    ({"weight": torch.zeros(2)}, "is not an OpenAI-layout CLIP file"),
    (b"not a checkpoint", "cannot read CLIP weights"),
    ("drop:transformer.resblocks.1.ln_2.bias", r"missing \['transformer.resblocks.1.ln_2.bias'\]"),
    ("width:96", "text width 96 is not a multiple of 64"),
])
def test_unrecognised_clip_file_is_named(tmp_path, content, message):
    if isinstance(content, bytes):
        path = tmp_path / "ViT-B-32.pt"
        path.write_bytes(content)
    elif isinstance(content, dict):
        path = save_openai_clip(tmp_path / "clip", content)
    elif content.startswith("drop:"):
        path = save_openai_clip(tmp_path / "clip", {k: v for k, v in openai_clip_state().items() if k != content[5:]})
    else:
        path = save_openai_clip(tmp_path / "clip", openai_clip_state(width=int(content[6:])))
    with pytest.raises(ValueError, match=message):
        CLIPTextEncoder(path)


def test_mdm_checkpoint_given_as_clip_is_named(tmp_path):
    path, _ = official_checkpoint(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="is not an OpenAI-layout CLIP file"):
        CLIPTextEncoder(path)


def test_missing_clip_tokenizer_says_where_to_get_it(tmp_path, monkeypatch):
    path = save_openai_clip(tmp_path / "clip", openai_clip_state())
    (path.parent / CLIP_BPE).unlink()
    monkeypatch.setattr(clip_text, "BPE_PACKAGES", ())
    with pytest.raises(FileNotFoundError, match=f"put {CLIP_BPE} beside it.*open_clip_torch"):
        CLIPTextEncoder(path)


def test_bpe_too_short_for_the_vocabulary_is_named(tmp_path):
    path = save_openai_clip(tmp_path / "clip", openai_clip_state())
    with pytest.raises(ValueError, match="does not hold the 48894 BPE merges"):
        openai_tokenizer(path.parent / CLIP_BPE, 49408)


def test_guidance_is_one_batched_call():
    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=16, layers=1, text_dim=8)).eval()
    table = {"walk": torch.randn(8), "jump": torch.randn(8)}
    denoiser = MDMDenoiser(network, lambda texts: torch.stack([table[t] for t in texts]), guidance=2.5)
    calls = []
    network.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    x, t = torch.randn(2, 263, 1, 12), torch.tensor([100, 100])
    guided = denoiser(x, t, ["walk", "jump"])
    assert calls == [4]
    text = torch.stack([table["walk"], table["jump"]])
    with torch.no_grad():
        cond, uncond = network(x, t, text), network(x, t, torch.zeros_like(text))
    torch.testing.assert_close(guided, uncond + 2.5 * (cond - uncond))


def test_bfloat16_runs_the_network_under_autocast_and_guides_in_float32():
    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=64, layers=2, text_dim=8)).eval()
    table = {"walk": torch.randn(8), "jump": torch.randn(8)}
    encode = lambda texts: torch.stack([table[t] for t in texts])  # noqa: E731
    autocast = []
    network.register_forward_hook(lambda module, inputs, output: autocast.append(torch.is_autocast_enabled("cpu")))
    x, t = torch.randn(2, 263, 1, 12), torch.tensor([500, 500])
    full = MDMDenoiser(network, encode, guidance=2.5)(x, t, ["walk", "jump"])
    half = MDMDenoiser(network, encode, guidance=2.5, precision="bfloat16")(x, t, ["walk", "jump"])
    assert autocast == [False, True]
    assert half.dtype == torch.float32 and not torch.equal(half, full)
    # bfloat16 keeps 8 bits of mantissa: relative errors of a few parts in a thousand, here after guidance's 2.5x.
    assert (half - full).norm() / full.norm() < 0.03
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        MDMDenoiser(network, encode, precision="auto")


def test_bfloat16_matrices_stored_once_give_what_autocast_gives_and_leave_the_network_as_it_was():
    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=64, layers=2, text_dim=8)).eval()
    before = {name: parameter.clone() for name, parameter in network.state_dict().items()}
    stored = with_bfloat16_matrices(network)
    x, t, text = torch.randn(4, 263, 1, 12), torch.tensor([999, 500, 20, 0]), torch.randn(4, 8)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(stored(x, t, text), network(x, t, text))
    assert {parameter.dtype for parameter in stored.parameters()} == {torch.float32, torch.bfloat16}
    assert all(torch.equal(network.state_dict()[name], value) for name, value in before.items())
    assert {parameter.dtype for parameter in network.parameters()} == {torch.float32}


def test_precision_auto_is_bfloat16_only_on_cpus_that_have_it(monkeypatch):
    from syncmotion import devices

    monkeypatch.setattr(devices, "_cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert devices.resolve_precision("auto", "cpu") == "bfloat16"
    assert devices.resolve_precision("auto", "cuda") == "float32"
    assert devices.resolve_precision("float32", "cpu") == "float32"
    monkeypatch.setattr(devices, "_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert devices.resolve_precision("auto", "cpu") == "float32"
    assert devices.resolve_precision("bfloat16", "cpu") == "bfloat16"  # asked for: emulated, slower, still allowed
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        devices.resolve_precision("half", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    with pytest.raises(ValueError, match="cuda has no bfloat16 arithmetic; use --precision float32"):
        devices.resolve_precision("bfloat16", "cuda")


@pytest.mark.parametrize("steps, first", [(1000, 980), (50, 49)])
def test_load_mdm_end_to_end(tmp_path, steps, first):
    # 1000: humanml_trans_enc_512; 50: the released humanml_enc_512_50steps, sampled at every training step.
    path, _ = official_checkpoint(tmp_path / "ckpt", args={**TINY_ARGS, "diffusion_steps": steps})
    backend = load_mdm(path, meta_dir(tmp_path / "meta"), tiny_clip(tmp_path / "clip"))
    assert backend.window == 196 and backend.default_steps == 50 and backend.precision == "float32"
    assert backend.scheduler.config.num_train_timesteps == steps
    backend.scheduler.set_timesteps(backend.default_steps)
    assert backend.scheduler.timesteps[0] == first and backend.scheduler.timesteps[-1] == 0
    t = backend.scheduler.timesteps[:1].repeat(2)
    out = backend.denoiser(2.5)(torch.randn(2, 263, 1, 20), t, ["a person walks", "a person runs"])
    assert out.shape == (2, 263, 1, 20) and torch.isfinite(out).all()


def test_converted_safetensors_loads_like_the_checkpoint(tmp_path):
    path, _ = official_checkpoint(tmp_path / "ckpt")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "convert_mdm.py"), str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    meta, clip = meta_dir(tmp_path / "meta"), tiny_clip(tmp_path / "clip")
    original, converted = load_mdm(path, meta, clip), load_mdm(path.with_suffix(".safetensors"), meta, clip)
    assert converted.name == "mdm:model000000000.safetensors"
    x, t, text = torch.randn(2, 263, 1, 30), torch.tensor([10, 500]), torch.randn(2, 512)
    with torch.no_grad():
        torch.testing.assert_close(converted.network(x, t, text), original.network(x, t, text), rtol=0, atol=0)


def test_load_mdm_names_missing_meta_files(tmp_path):
    path, _ = official_checkpoint(tmp_path / "ckpt")
    (tmp_path / "meta").mkdir()
    with pytest.raises(FileNotFoundError, match="Mean.npy"):
        load_mdm(path, tmp_path / "meta", tiny_clip(tmp_path / "clip"))


def test_guidance_zero_does_not_embed_the_prompts():
    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=16, layers=1, text_dim=8)).eval()
    denoiser = MDMDenoiser(network, lambda texts: pytest.fail(f"embedded {texts}"), guidance=0.0)
    x, t = torch.randn(2, 263, 1, 12), torch.tensor([100, 100])
    with torch.no_grad():
        assert torch.equal(denoiser(x, t, ["", ""]), network(x, t, torch.zeros(2, 8)))
