"""Prompts read as the wordings a small model was trained on: soft nearest neighbours by sentence embedding and words."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import Stemmer
import torch

from syncmotion.files import write_atomically

# A few neighbours with a sharp softmax: the embedding lands on the training texts' manifold (where the model
# learned what embeddings mean) while near-ties between two wordings of one action still blend smoothly.
NEIGHBOURS = 5
TEMPERATURE = 0.01
# MiniLM puts "waves with the right hand" 0.98 from "... left hand": a prompt the model was trained on is read as
# itself, or the softmax would blend in the other side.
EXACT_SIMILARITY = 0.995
# Neighbours are ranked by cosine similarity + LEXICAL_WEIGHT x TF-IDF similarity of stemmed words: MiniLM alone
# puts "strikes forward with the left foot" nearer to waves than to kicks, a shared "foot" does not. The weight is
# the smallest within one standard error of the best in leave-one-template-out cross-validation on the training
# wordings (tools/tune_snapping.py).
LEXICAL_WEIGHT = 0.6
# Words that say who moves or glue a sentence, not how it moves.
STOP_WORDS = frozenset(("a an the person someone somebody man woman he she character his her their them "
                        "with to and of on in up out at one").split())
# Word stems of opposite directions. MiniLM barely tells them apart ("makes their way forward on foot" lands nearest
# "moves back on foot"), so a training wording that says the opposite of the prompt is ranked DIRECTION_PENALTY lower.
OPPOSITE_DIRECTIONS = ((frozenset({"forward"}), frozenset({"back", "backward"})), (frozenset({"left"}), frozenset({"right"})))
DIRECTION_PENALTY = 1.0
# Snapped embeddings are remembered for this many distinct batches of prompts (the sampler repeats one per run).
SNAPPED_BATCHES = 32


@functools.cache
def _english_stemmer() -> Stemmer.Stemmer:
    # PyStemmer: Snowball's own C code, the same stems as the pure-Python snowballstemmer (checked on the 3,762
    # distinct words of the embedded model's texts, the scripts and the code) 80x faster, and it imports in a
    # millisecond where snowballstemmer imported every language's stemmer (0.1 s).
    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    # Remembered: the training texts use a few hundred distinct words.
    return _english_stemmer().stemWord(word)


def motion_words(text: str) -> list[str]:
    """Lower-case word stems of `text` without STOP_WORDS ("Kicks twice" -> ["kick", "twice"])."""
    return [_stem(word) for word in re.findall(r"[a-z]+", text.lower()) if word not in STOP_WORDS]


@dataclass(frozen=True)
class WordIndex:
    """TF-IDF vectors of word lists, as scikit-learn's TfidfVectorizer(sublinear_tf=True) makes them: 1 + log of
    each word's count, times its smoothed inverse document frequency, scaled to unit length."""

    vocabulary: dict[str, int]
    idf: np.ndarray

    # Written out rather than taken from scikit-learn, which takes a second to import (longer than reading a
    # script's prompts); tests/test_text_prototypes.py checks it against TfidfVectorizer.
    @classmethod
    def fit(cls, documents: Sequence[Sequence[str]]) -> WordIndex:
        """The vocabulary and inverse document frequencies of `documents` (lists of words)."""
        vocabulary = {word: i for i, word in enumerate(sorted({word for words in documents for word in words}))}
        frequency = np.zeros(len(vocabulary))
        for words in documents:
            frequency[[vocabulary[word] for word in set(words)]] += 1
        return cls(vocabulary, np.log((1 + len(documents)) / (1 + frequency)) + 1)

    def vectors(self, documents: Sequence[Sequence[str]]) -> np.ndarray:
        """Unit TF-IDF rows [len(documents), vocabulary] (all zero for a document with no known word)."""
        counts = np.zeros((len(documents), len(self.vocabulary)))
        for row, words in enumerate(documents):
            for word in words:
                if word in self.vocabulary:
                    counts[row, self.vocabulary[word]] += 1
        weighted = np.where(counts > 0, 1 + np.log(np.maximum(counts, 1)), 0.0) * self.idf
        norms = np.linalg.norm(weighted, axis=1, keepdims=True)
        return weighted / np.where(norms > 0, norms, 1.0)


def one_sided_directions(words: set[str]) -> list[bool]:
    """For each side of each OPPOSITE_DIRECTIONS pair: whether `words` (stems) name that side and not the other."""
    return [bool(words & side and not words & other) for one, two in OPPOSITE_DIRECTIONS
            for side, other in ((one, two), (two, one))]


def _flags(word_sets: Sequence[set[str]]) -> torch.Tensor:
    return torch.tensor([one_sided_directions(words) for words in word_sets], dtype=torch.float32).reshape(len(word_sets), -1)


def _opposite_flags(word_sets: Sequence[set[str]]) -> torch.Tensor:
    # Swap the two sides of every pair, so a dot product with _flags counts contradictions.
    flags = _flags(word_sets)
    return flags.reshape(len(word_sets), -1, 2).flip(-1).reshape(len(word_sets), -1)


@dataclass
class TextPrototypes:
    """The distinct training texts of a model and their unit sentence embeddings [N, dim]."""

    texts: list[str]
    embeddings: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.embeddings) or not self.texts:
            raise ValueError(f"text prototypes need one embedding per text, got {len(self.texts)} texts and "
                             f"{len(self.embeddings)} embeddings")
        self.embeddings = torch.nn.functional.normalize(self.embeddings.float(), dim=-1)

    @classmethod
    def from_texts(cls, texts: Sequence[str], encoder: Callable[[Sequence[str]], torch.Tensor]) -> TextPrototypes:
        """Prototypes of the distinct `texts`, embedded by `encoder`."""
        distinct = sorted(set(texts))
        return cls(distinct, encoder(distinct).detach().cpu())

    def save(self, path: str | Path) -> None:
        """Write the texts and their float32 embeddings to a safetensors file."""
        from safetensors.torch import save_file

        write_atomically(path, lambda temporary: save_file(
            {"embeddings": self.embeddings.contiguous()}, str(temporary), metadata={"texts": json.dumps(self.texts)}))

    @classmethod
    def load(cls, path: str | Path) -> TextPrototypes:
        """Prototypes written by `save`."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            texts = (handle.metadata() or {}).get("texts")
            if texts is None or "embeddings" not in handle.keys():
                raise ValueError(f"{path} holds no text prototypes: write one with tools/embed_corpus_texts.py")
            return cls(json.loads(texts), handle.get_tensor("embeddings"))

    def lookup(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings [len(texts), dim] of texts that are all among the prototypes."""
        row = self.row
        missing = sorted(set(texts) - row.keys())
        if missing:
            raise ValueError(f"{len(missing)} texts have no embedding (e.g. {missing[0]!r}): embed this corpus's "
                             "texts again with tools/embed_corpus_texts.py")
        return self.embeddings[torch.tensor([row[text] for text in texts], dtype=torch.long)]

    @cached_property
    def row(self) -> dict[str, int]:
        """Each text's row in `embeddings`."""
        return {text: i for i, text in enumerate(self.texts)}

    @cached_property
    def _words(self) -> list[list[str]]:
        # Worked out only when a prompt is not a training text: a run whose prompts all are never compares words.
        return [motion_words(text) for text in self.texts]

    @cached_property
    def _word_index(self) -> tuple[WordIndex, np.ndarray]:
        index = WordIndex.fit(self._words)
        return index, index.vectors(self._words)

    @cached_property
    def _direction_flags(self) -> torch.Tensor:
        return _flags([set(words) for words in self._words])

    def contradictions(self, texts: Sequence[str]) -> torch.Tensor:
        """[len(texts), N]: 1 where a prototype names only the opposite of a direction the prompt names, else 0."""
        counts = _opposite_flags([set(motion_words(text)) for text in texts]) @ self._direction_flags.T
        return (counts > 0).float()

    def word_similarity(self, texts: Sequence[str]) -> torch.Tensor:
        """Cosine similarity [len(texts), N] of TF-IDF vectors of motion words, prompts against prototypes."""
        index, prototypes = self._word_index
        return torch.from_numpy(index.vectors([motion_words(text) for text in texts]) @ prototypes.T).float()


@dataclass
class Reading:
    """How a prompt was read: its nearest training texts with their weights, and the best cosine similarity."""

    prompt: str
    neighbours: list[tuple[str, float]]
    similarity: float


class SnappedTextEncoder:
    """A sentence encoder whose embeddings are replaced by a similarity-weighted mean of the nearest prototypes."""

    def __init__(self, encoder: Callable[[Sequence[str]], torch.Tensor], prototypes: TextPrototypes,
                 neighbours: int = NEIGHBOURS, temperature: float = TEMPERATURE, lexical_weight: float = LEXICAL_WEIGHT) -> None:
        if neighbours < 1 or temperature <= 0 or lexical_weight < 0:
            raise ValueError(f"need at least one neighbour, a positive temperature and a lexical weight >= 0, got "
                             f"{neighbours}, {temperature} and {lexical_weight}")
        self.encoder = encoder
        self.prototypes = prototypes
        self.neighbours = min(neighbours, len(prototypes.texts))
        self.temperature = temperature
        self.lexical_weight = lexical_weight
        self._snapped: dict[tuple[str, ...], torch.Tensor] = {}

    @property
    def dim(self) -> int:
        """Embedding size (the wrapped encoder's)."""
        return int(self.prototypes.embeddings.shape[1])

    def _raw(self, texts: Sequence[str]) -> torch.Tensor:
        """Sentence embeddings of `texts`, from the encoder, or from the prototypes when every text is a training text."""
        # A training text's prototype is the encoder's own embedding of it, and such a text is read as itself
        # (EXACT_SIMILARITY, which its prototype meets as well as the encoder's output does), so the encoder's
        # numbers would not change the result: a run whose prompts are all training texts need not load the text
        # model (about a second and a half). With one prompt that is not, all go to the encoder as one batch: its
        # last bits depend on the batch.
        if all(text in self.prototypes.row for text in texts):
            return self.prototypes.lookup(texts).to(getattr(self.encoder, "device", "cpu"))
        return self.encoder(list(texts)).float()

    def _weights(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raw = self._raw(texts)
        similarity = raw @ self.prototypes.embeddings.to(raw.device).T
        best_similarity = similarity.max(dim=1).values
        exact = best_similarity >= EXACT_SIMILARITY
        score = similarity.clone()
        if not exact.all():  # words only rank the neighbours of a prompt that is not a training text (saves stemming every training text)
            if self.lexical_weight:
                score += self.lexical_weight * self.prototypes.word_similarity(texts).to(similarity)
            score -= DIRECTION_PENALTY * self.prototypes.contradictions(texts).to(similarity)
        # A training text is read as itself: rank it first whatever the words say.
        score[exact, similarity[exact].argmax(dim=1)] = float("inf")
        best_score, index = score.topk(self.neighbours, dim=1)
        weights = torch.softmax(best_score / self.temperature, dim=1)
        weights[exact] = torch.nn.functional.one_hot(torch.zeros_like(index[exact, 0]), self.neighbours).to(weights)
        return weights, index, best_similarity

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """Snapped unit embeddings [len(texts), dim] in input order."""
        if not texts:
            return self.encoder([])
        # The sampler asks for the same windows' prompts at every step: work them out once.
        key = tuple(texts)
        if key not in self._snapped:
            weights, index, _ = self._weights(texts)
            table = self.prototypes.embeddings.to(weights.device)
            if len(self._snapped) >= SNAPPED_BATCHES:
                self._snapped.pop(next(iter(self._snapped)))
            self._snapped[key] = torch.nn.functional.normalize((weights[..., None] * table[index]).sum(1), dim=-1)
        return self._snapped[key].clone()

    def read(self, texts: Sequence[str]) -> list[Reading]:
        """For each prompt, the training texts it is read as (weight above 5%) and its best similarity."""
        if not texts:
            return []
        weights, index, best = self._weights(texts)
        readings = []
        for prompt, row_weights, row_index, row_best in zip(texts, weights.tolist(), index.tolist(), best.tolist()):
            kept = [(self.prototypes.texts[i], w) for i, w in zip(row_index, row_weights) if w >= 0.05]
            readings.append(Reading(prompt=prompt, neighbours=kept, similarity=row_best))
        return readings
