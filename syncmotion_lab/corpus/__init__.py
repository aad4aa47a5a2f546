"""Procedural motion corpus: parametric actions on the 22-joint skeleton, with matching texts."""

from syncmotion_lab.corpus.actions import ACTIONS, FPS
from syncmotion_lab.corpus.generator import Clip, corpus_clip, generate_clip, sample_clip, sample_params
from syncmotion_lab.corpus.store import Corpus, read_corpus, write_corpus
from syncmotion_lab.corpus.texts import texts

__all__ = ["ACTIONS", "FPS", "Clip", "Corpus", "corpus_clip", "generate_clip", "read_corpus", "sample_clip", "sample_params",
           "texts", "write_corpus"]
