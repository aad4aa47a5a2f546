"""Text embeddings computed once: in memory per run, on disk across runs, and not at all for training texts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from syncmotion.backends import minilm
from syncmotion.backends.bert import BertConfig
from syncmotion.backends.embedded import default_model_path, read_text_prototypes
from syncmotion.backends.minilm import MiniLMTextEncoder
from syncmotion.backends.text_cache import CachedTextEncoder, EmbeddingStore, cache_root
from syncmotion.backends.text_prototypes import EXACT_SIMILARITY, SnappedTextEncoder, TextPrototypes
from syncmotion.cli import main


class CountingEncoder(CachedTextEncoder):
    """Embeddings that depend on the whole batch (as a padded text model's last bits do), counting each batch."""

    dim = 4
    device = torch.device("cpu")

    def __init__(self, store: EmbeddingStore | None = None) -> None:
        super().__init__(store)
        self.batches: list[list[str]] = []

    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        self.batches.append(texts)
        return torch.tensor([[len(text), len(texts), sum(map(len, texts)), 1.0] for text in texts])


def store(folder: Path, identity: str = "toy/1") -> EmbeddingStore:
    return EmbeddingStore(folder, lambda: identity)


def test_a_batch_is_computed_once_then_read_back_bit_for_bit(tmp_path):
    first = CountingEncoder(store(tmp_path))
    computed = first(["walk", "jump", "walk"])
    assert first.batches == [["jump", "walk"]]
    again = CountingEncoder(store(tmp_path))
    assert torch.equal(again(["walk", "jump", "walk"]), computed) and again.batches == []
    # Another batch is another entry: its texts were padded with other texts.
    assert torch.equal(again(["wave"]), CountingEncoder()(["wave"])) and again.batches == [["wave"]]
    assert len(list(tmp_path.rglob("*.safetensors"))) == 2


def test_another_model_or_a_damaged_entry_is_computed_again_and_rewritten(tmp_path):
    expected = CountingEncoder(store(tmp_path))(["walk"])
    other_model = CountingEncoder(store(tmp_path, "toy/2"))
    other_model(["walk"])
    assert other_model.batches == [["walk"]]
    (entry,) = store(tmp_path).path(["walk"]).parent.glob("*.safetensors")
    for damage in (b"", b"garbage" * 10, entry.read_bytes()[:-7], b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "):
        entry.write_bytes(damage)
        encoder = CountingEncoder(store(tmp_path))
        assert torch.equal(encoder(["walk"]), expected) and encoder.batches == [["walk"]]
        assert entry.read_bytes() != damage
        reader = CountingEncoder(store(tmp_path))
        assert torch.equal(reader(["walk"]), expected) and reader.batches == []


def test_an_entry_for_other_texts_or_with_bad_numbers_is_not_used(tmp_path):
    from safetensors.torch import save_file

    kept = store(tmp_path)
    kept.put(["walk"], torch.ones(1, 4))
    path = kept.path(["walk"])
    metadata = {"format": "syncmotion.text-embeddings/1", "identity": "toy/1", "texts": '["jump"]'}
    save_file({"embeddings": torch.ones(1, 4)}, str(path), metadata=metadata)
    assert kept.get(["walk"]) is None
    save_file({"embeddings": torch.full((1, 4), float("nan"))}, str(path), metadata={**metadata, "texts": '["walk"]'})
    assert kept.get(["walk"]) is None
    save_file({"embeddings": torch.ones(2, 4)}, str(path), metadata={**metadata, "texts": '["walk"]'})
    assert kept.get(["walk"]) is None
    save_file({"embeddings": torch.ones(1, 3)}, str(path), metadata={**metadata, "texts": '["walk"]'})
    encoder = CountingEncoder(kept)  # 3 numbers a text: another model's
    encoder(["walk"])
    assert encoder.batches == [["walk"]]


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    encoder = CountingEncoder(store(blocked / "cache"))
    assert encoder(["walk"]).shape == (1, 4) and encoder.batches == [["walk"]]


def test_where_the_cache_is(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNCMOTION_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv("SYNCMOTION_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "syncmotion"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "syncmotion"
    for off in ("0", "off", "false", "no"):
        monkeypatch.setenv("SYNCMOTION_CACHE", off)
        assert cache_root() is None
        assert MiniLMTextEncoder(disk_cache=True).store is None


def test_minilm_loads_its_model_only_for_a_new_text(monkeypatch):
    encoder = MiniLMTextEncoder(disk_cache=True)
    assert "_loaded" not in encoder.__dict__ and encoder.store is not None
    first = encoder(["a person strolls"])
    assert "_loaded" in encoder.__dict__
    again = MiniLMTextEncoder(disk_cache=True)
    monkeypatch.setattr(MiniLMTextEncoder, "_encode_new", lambda self, texts: pytest.fail(f"encoded {texts}"))
    assert torch.equal(again(["a person strolls"]), first) and "_loaded" not in again.__dict__
    assert not list(Path(os.environ["SYNCMOTION_CACHE_DIR"]).rglob(".*"))  # no temporaries left behind


def test_minilm_embeds_as_transformers_bert_model_does():
    # bert.py's forward pass and tokenizers' split, against transformers' BertModel and tokenizer (the reference).
    from transformers import AutoModel, AutoTokenizer

    texts = ["a person walks forward", "Someone HOPS on one leg, then crawls!", "naïve café jump", "x", "a person " * 100]
    encoder = MiniLMTextEncoder()
    ours = encoder._encode_new(texts)
    tokenizer, model = AutoTokenizer.from_pretrained(encoder.path), AutoModel.from_pretrained(encoder.path).eval()
    with torch.inference_mode():
        batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
    assert [encoding.ids for encoding in encoder.tokenizer.encode_batch(texts)] == batch["input_ids"].tolist()
    mask = batch["attention_mask"][..., None].float()
    reference = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)


def test_a_model_folder_that_is_not_bert_is_refused_in_one_line(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_size": 8}))
    with pytest.raises(ValueError, match="is not a BERT model"):
        BertConfig.read(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="lacks a BERT size"):
        BertConfig.read(tmp_path)


def test_the_cache_key_follows_the_model_files(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"one")
    before = MiniLMTextEncoder(model, disk_cache=True).store
    assert before is not None
    key = before.path(["walk"])
    (model / "model.safetensors").write_bytes(b"other")
    after = MiniLMTextEncoder(model, disk_cache=True).store
    assert after is not None and after.path(["walk"]) != key


def never(texts):
    raise AssertionError(f"the encoder was asked for {texts}")


def test_training_texts_are_read_without_the_encoder():
    prototypes = TextPrototypes(["jump", "walk", "walk left"], torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.05, 0.0]]))
    snapped = SnappedTextEncoder(never, prototypes)
    torch.testing.assert_close(snapped(["walk", "walk left", "walk"]), prototypes.lookup(["walk", "walk left", "walk"]))
    assert [reading.neighbours for reading in snapped.read(["walk left", "jump"])] == [[("walk left", 1.0)], [("jump", 1.0)]]
    with pytest.raises(AssertionError, match="asked for"):
        snapped(["walk", "stroll"])


def test_a_batch_of_prompts_is_snapped_once():
    calls = []

    def encoder(texts):
        calls.append(list(texts))
        return torch.tensor([[1.0, 0.1, 0.0]] * len(texts))

    snapped = SnappedTextEncoder(encoder, TextPrototypes(["jump", "walk"], torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])))
    first = snapped(["stroll", "stroll"])
    first.add_(1)  # a caller's change must not reach the remembered result
    assert torch.equal(snapped(["stroll", "stroll"]), first - 1) and calls == [["stroll", "stroll"]]


def test_shipped_training_texts_read_as_themselves_as_through_minilm():
    prototypes = read_text_prototypes(default_model_path())
    assert prototypes is not None
    similarity = prototypes.embeddings @ prototypes.embeddings.T
    own = torch.arange(len(prototypes.texts))
    # What lets a training text skip MiniLM: its own prototype is its nearest, past the "read as itself" mark.
    assert torch.equal(similarity.argmax(dim=1), own) and bool((similarity[own, own] >= EXACT_SIMILARITY).all())
    texts = ["a person walks forward", "a person waves with the right hand", "a person walks forward"]
    shortcut = SnappedTextEncoder(MiniLMTextEncoder(), prototypes)(texts)
    through_minilm = TextPrototypes(prototypes.texts, prototypes.embeddings)
    through_minilm.__dict__["row"] = {}  # no text counts as known: all go through MiniLM, as before the shortcut
    assert torch.equal(shortcut, SnappedTextEncoder(MiniLMTextEncoder(), through_minilm)(texts))


def test_the_command_reuses_embeddings_across_runs(tmp_path, monkeypatch):
    def run(out: Path) -> bytes:
        arguments = ["motion", "--text", "someone ambles ahead happily; a person walks forward", "--seconds", "1,1",
                     "--steps", "2", "--formats", "npy", "--out", str(out)]
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 0, result.output
        return (out / "results.npy").read_bytes()

    first = run(tmp_path / "one")
    cached = sorted(Path(os.environ["SYNCMOTION_CACHE_DIR"]).rglob("*.safetensors"))
    assert len(cached) == 1
    monkeypatch.setenv("SYNCMOTION_CACHE", "0")
    assert run(tmp_path / "uncached") == first
    monkeypatch.delenv("SYNCMOTION_CACHE")
    monkeypatch.setattr(minilm.MiniLMTextEncoder, "_loaded", property(lambda self: pytest.fail("MiniLM was loaded")))
    assert run(tmp_path / "two") == first
    assert sorted(Path(os.environ["SYNCMOTION_CACHE_DIR"]).rglob("*.safetensors")) == cached
