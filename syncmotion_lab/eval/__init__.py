"""Motion evaluation: an action classifier with a feature space, and the long-motion metrics computed with it."""

from syncmotion_lab.eval.evaluator import Evaluator, load_evaluator, motion_inputs

__all__ = ["Evaluator", "load_evaluator", "motion_inputs"]
