"""Procedural motion corpus: parametric actions on the 22-joint skeleton, with matching texts."""

from syncmotion.corpus.actions import ACTIONS, FPS
from syncmotion.corpus.generator import Clip, generate_clip, sample_clip, sample_params
from syncmotion.corpus.texts import texts

__all__ = ["ACTIONS", "FPS", "Clip", "generate_clip", "sample_clip", "sample_params", "texts"]
