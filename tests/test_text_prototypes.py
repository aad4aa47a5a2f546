"""Reading prompts as the embedded model's training wordings: the snapping math, the file format, the command."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from syncmotion.backends.embedded import (
    default_model_path, load_embedded, read_text_prototypes, save_embedded, unsnapped,
)
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.backends.text_prototypes import SnappedTextEncoder, TextPrototypes, WordIndex, motion_words
from syncmotion.cli import main

AXES = {"jumps forward": [0.8, 0.6, 0.0], "walk": [1.0, 0.0, 0.0], "jump": [0.0, 1.0, 0.0], "wave": [0.0, 0.0, 1.0],
        "stroll": [0.9, 0.1, 0.0], "hop": [0.1, 0.8, 0.0], "between": [1.0, 1.0, 0.0], "walk left": [1.0, 0.05, 0.0],
        "goes forward on foot": [0.0, 0.2, 1.0], "moves back on foot": [0.0, 0.0, 1.0], "walks forward": [0.3, 0.6, 1.0],
        "turns to the left": [1.0, 0.0, 0.0], "turns to the right": [0.99, 0.1, 0.0], "steps back and forward": [0.0, 0.2, 1.0]}


def fake_encoder(texts: list[str]) -> torch.Tensor:
    """Fixed unit vectors per word, so nearest neighbours are known by construction."""
    return torch.nn.functional.normalize(torch.tensor([AXES[t] for t in texts]), dim=-1)


def three_prototypes() -> TextPrototypes:
    return TextPrototypes.from_texts(["wave", "walk", "jump", "walk"], fake_encoder)


def test_prototypes_are_distinct_sorted_and_unit() -> None:
    prototypes = three_prototypes()
    assert prototypes.texts == ["jump", "walk", "wave"]
    torch.testing.assert_close(prototypes.embeddings.norm(dim=-1), torch.ones(3))


def test_prototypes_file_round_trips_and_looks_up_each_text(tmp_path) -> None:
    path = tmp_path / "texts.safetensors"
    three_prototypes().save(path)
    loaded = TextPrototypes.load(path)
    assert loaded.texts == ["jump", "walk", "wave"]
    torch.testing.assert_close(loaded.lookup(["wave", "jump", "wave"]), fake_encoder(["wave", "jump", "wave"]))
    with pytest.raises(ValueError, match="1 texts have no embedding.*'hop'.*embed_corpus_texts"):
        loaded.lookup(["walk", "hop"])


def test_a_file_without_prototypes_is_refused_with_the_fix(tmp_path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"weights": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="holds no text prototypes.*embed_corpus_texts"):
        TextPrototypes.load(path)


def test_a_near_wording_snaps_onto_its_training_text() -> None:
    snapped = SnappedTextEncoder(fake_encoder, three_prototypes())
    out = snapped(["stroll", "hop", "walk"])
    torch.testing.assert_close(out, fake_encoder(["walk", "jump", "walk"]), atol=1e-3, rtol=0)
    reading = snapped.read(["stroll"])[0]
    assert reading.neighbours[0][0] == "walk" and reading.neighbours[0][1] > 0.95
    assert reading.similarity == pytest.approx(float(fake_encoder(["stroll"])[0, 0]), abs=1e-6)


def test_a_tie_blends_both_wordings_and_stays_unit() -> None:
    snapped = SnappedTextEncoder(fake_encoder, three_prototypes(), neighbours=2)
    out = snapped(["between"])
    torch.testing.assert_close(out, fake_encoder(["between"]), atol=1e-5, rtol=0)
    assert sorted(text for text, _ in snapped.read(["between"])[0].neighbours) == ["jump", "walk"]


def test_a_training_text_is_read_as_itself_even_beside_a_near_twin() -> None:
    prototypes = TextPrototypes.from_texts(["walk", "walk left", "jump"], fake_encoder)
    snapped = SnappedTextEncoder(fake_encoder, prototypes)
    torch.testing.assert_close(snapped(["walk", "walk left"]), fake_encoder(["walk", "walk left"]))
    assert snapped.read(["walk"])[0].neighbours == [("walk", 1.0)]
    for weight in (0.0, 0.3):
        reading = SnappedTextEncoder(fake_encoder, prototypes, lexical_weight=weight).read(["walk"])[0]
        assert reading.neighbours == [("walk", 1.0)] and reading.similarity == pytest.approx(1.0)


def test_motion_words_are_stems_without_who_moves() -> None:
    assert motion_words("A person Kicks twice, then the man is running") == ["kick", "twice", "then", "is", "run"]


def test_word_index_is_scikit_learns_tfidf() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = read_text_prototypes(default_model_path()).texts[:400] + ["kicks kicks kicks twice", "the person"]
    prompts = ["a man strikes forward with the left foot", "someone kicks", "zzz unknown words", "walks walks back"]
    documents = [motion_words(text) for text in texts]
    index = WordIndex.fit(documents)
    vectorizer = TfidfVectorizer(analyzer=motion_words, sublinear_tf=True)
    expected = vectorizer.fit_transform(texts).toarray()
    order = [index.vocabulary[word] for word in vectorizer.get_feature_names_out()]
    assert expected.shape[1] == len(index.vocabulary)
    assert abs(index.vectors(documents)[:, order] - expected).max() < 1e-12
    ours = index.vectors([motion_words(prompt) for prompt in prompts])[:, order]
    assert abs(ours - vectorizer.transform(prompts).toarray()).max() < 1e-12
    assert not ours[2].any()  # no known word: a zero vector, as scikit-learn gives


def test_a_shared_motion_word_outweighs_a_slightly_nearer_embedding() -> None:
    # "jumps forward" embeds nearer "walk" (0.8) than "jump" (0.6) but shares its word.
    by_embedding = SnappedTextEncoder(fake_encoder, three_prototypes(), lexical_weight=0)
    assert by_embedding.read(["jumps forward"])[0].neighbours[0][0] == "walk"
    by_words_too = SnappedTextEncoder(fake_encoder, three_prototypes(), lexical_weight=0.3)
    reading = by_words_too.read(["jumps forward"])[0]
    assert reading.neighbours[0][0] == "jump"
    assert reading.similarity == pytest.approx(0.8, abs=1e-6)  # still the best embedding similarity


def test_a_wording_of_the_opposite_direction_is_not_read_as_the_prompt() -> None:
    prototypes = TextPrototypes.from_texts(["moves back on foot", "walks forward", "turns to the left"], fake_encoder)
    reader = SnappedTextEncoder(fake_encoder, prototypes, lexical_weight=0.3)
    # By embedding, "moves back on foot" is nearest (0.98 against 0.91); it says the opposite direction.
    assert prototypes.contradictions(["goes forward on foot"]).tolist() == [[1.0, 0.0, 0.0]]
    assert reader.read(["goes forward on foot"])[0].neighbours[0][0] == "walks forward"
    assert reader.read(["turns to the right"])[0].neighbours[0][0] != "turns to the left"


def test_directions_contradict_only_when_one_side_alone_is_named() -> None:
    def contradicts(prompt: str, prototype: str) -> bool:
        return TextPrototypes([prototype], torch.ones(1, 3)).contradictions([prompt]).tolist() == [[1.0]]

    assert contradicts("walks forward", "walks backwards")
    assert contradicts("waves with the left hand", "waves with the right hand")
    assert not contradicts("walks forward", "steps back and forward")
    assert not contradicts("jumps up", "walks back")
    assert not contradicts("walks forward", "walks forward quickly")


def test_empty_batch_and_bad_settings() -> None:
    assert SnappedTextEncoder(lambda texts: torch.zeros(len(texts), 3), three_prototypes())([]).shape == (0, 3)
    with pytest.raises(ValueError, match="neighbour"):
        SnappedTextEncoder(fake_encoder, three_prototypes(), neighbours=0)
    with pytest.raises(ValueError, match="lexical weight"):
        SnappedTextEncoder(fake_encoder, three_prototypes(), lexical_weight=-1)
    with pytest.raises(ValueError, match="one embedding per text"):
        TextPrototypes(["a", "b"], torch.zeros(1, 3))


@pytest.fixture(scope="module")
def tiny_with_prototypes(tmp_path_factory):
    """A random embedded-format model that lists two training texts, embedded by the real MiniLM encoder."""
    from syncmotion.backends.minilm import MiniLMTextEncoder

    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=16, ff_size=32, layers=1, text_dim=384, max_positions=200))
    prototypes = TextPrototypes.from_texts(["a person walks forward", "a person jumps in place"], MiniLMTextEncoder())
    path = tmp_path_factory.mktemp("embedded") / "tiny.safetensors"
    settings = {"window": 40, "noise_schedule": "cosine", "diffusion_steps": 100, "sample_steps": 2}
    save_embedded(path, network, torch.zeros(263), torch.full((263,), 0.01), settings, prototypes)
    return path


def test_prototypes_round_trip_through_the_model_file(tiny_with_prototypes) -> None:
    stored = read_text_prototypes(tiny_with_prototypes)
    assert stored is not None and stored.texts == ["a person jumps in place", "a person walks forward"]
    backend = load_embedded(tiny_with_prototypes)
    assert isinstance(backend.text_encoder, SnappedTextEncoder)
    reading = backend.text_encoder.read(["someone strolls ahead"])[0]
    assert reading.neighbours[0][0] == "a person walks forward"
    assert not isinstance(load_embedded(tiny_with_prototypes, snap_text=False).text_encoder, SnappedTextEncoder)
    raw = unsnapped(backend)
    assert not isinstance(raw.text_encoder, SnappedTextEncoder) and raw.network is backend.network
    assert isinstance(backend.text_encoder, SnappedTextEncoder)


def test_the_command_says_how_it_read_each_prompt(tmp_path, tiny_with_prototypes) -> None:
    arguments = ["motion", "--text", "someone strolls ahead; a dog barks loudly", "--seconds", "2,2", "--model",
                 str(tiny_with_prototypes), "--formats", "json", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert "'someone strolls ahead' read as 'a person walks forward'" in result.output
    assert "far from anything it knows" in result.output.split("'a dog barks loudly' read as")[1].splitlines()[0]
    raw = CliRunner().invoke(main, [*arguments, "--no-snap-text"])
    assert raw.exit_code == 0, raw.output
    assert "read as" not in raw.output


def test_shipped_model_lists_its_training_texts() -> None:
    stored = read_text_prototypes(default_model_path())
    assert stored is not None and len(stored.texts) == 1780  # the distinct texts of its 50,000-clip corpus (seed 0)
    assert {"a person walks forward", "he walks forward"} <= set(stored.texts)
    # Every held-out wording starts "a figure" or "an individual": none may be among the training texts.
    assert not [text for text in stored.texts if text.startswith(("a figure", "an individual"))]


def test_tuning_tool_cross_validates_and_names_its_pick() -> None:
    import importlib.util
    from pathlib import Path

    tools = Path(__file__).resolve().parent.parent / "tools"
    spec = importlib.util.spec_from_file_location("tune_snapping", tools / "tune_snapping.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    result = CliRunner().invoke(tool.main, ["--weights", "0,0.3", "--draws", "3", "--queries", "2", "--no-doc"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| 0")]
    assert len(rows) == 2 and all(0 < float(row.split("|")[2].split("±")[0]) <= 1 for row in rows)
    assert "one-standard-error rule picks" in result.output and "chosen" in result.output
