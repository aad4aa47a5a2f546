"""MDM backend: official key layout, checkpoint loading and its errors, CLIP text path, guidance, schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from syncmotion.backends.clip_text import CLIPTextEncoder
from syncmotion.backends.mdm import MDMDenoiser, diffusion_scheduler, load_mdm, load_weights, read_mdm_args, read_state_dict
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.backends.tiny_mdm import save_clip_text_model, save_identity_meta, save_official_checkpoint

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


def tiny_clip(folder):
    return save_clip_text_model(folder)


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


def test_load_mdm_end_to_end(tmp_path):
    path, _ = official_checkpoint(tmp_path / "ckpt")
    backend = load_mdm(path, meta_dir(tmp_path / "meta"), tiny_clip(tmp_path / "clip"))
    assert backend.window == 196 and backend.default_steps == 50
    out = backend.denoiser(2.5)(torch.randn(2, 263, 1, 20), torch.tensor([980, 980]), ["a person walks", "a person runs"])
    assert out.shape == (2, 263, 1, 20) and torch.isfinite(out).all()


def test_load_mdm_names_missing_meta_files(tmp_path):
    path, _ = official_checkpoint(tmp_path / "ckpt")
    (tmp_path / "meta").mkdir()
    with pytest.raises(FileNotFoundError, match="Mean.npy"):
        load_mdm(path, tmp_path / "meta", tiny_clip(tmp_path / "clip"))
