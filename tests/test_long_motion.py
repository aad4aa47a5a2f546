"""The shipped embedded model end to end: a 30 s, 3-segment script becomes one continuous 600-frame motion."""

from __future__ import annotations

import numpy as np
import pytest

from syncmotion.backends.embedded import default_model_path, load_default
from syncmotion.pipelines.long_motion import LongMotionSettings, generate_motion
from syncmotion.motion.script import parse_script

pytestmark = pytest.mark.skipif(not default_model_path().exists(), reason="models/embedded.safetensors is not there")

SCRIPT = "a person walks forward | 10s\na person jumps in place | 10s\na person waves with the right hand | 10s\n"


@pytest.fixture(scope="module")
def motions():
    backend = load_default()
    script = parse_script(SCRIPT)
    runs = {("syncsde", "paste"), ("syncsde", "crossfade"), ("independent", "paste"), ("doubletake", "crossfade")}
    return {run: generate_motion(script, backend, LongMotionSettings.named(run[0], seed=0, stitch=run[1]), progress=False)[0]
            for run in runs}


def seam_ratio(motion) -> float:
    """90th percentile of the largest joint step per frame near seams over the same elsewhere."""
    assert motion.positions.shape == (600, 22, 3) and np.isfinite(motion.positions).all()
    assert len(motion.seams) >= 5
    step = np.linalg.norm(np.diff(motion.positions, axis=0), axis=-1).max(axis=-1)
    at_seams = np.zeros(len(step), dtype=bool)
    for seam in motion.seams:
        at_seams[max(seam - 2, 0): seam + 1] = True
    # A percentile, not the maximum: the small model glitches now and then anywhere, seam or not.
    return float(np.percentile(step[at_seams], 90) / np.percentile(step[~at_seams], 90))


@pytest.mark.parametrize("stitch", ["paste", "crossfade"])
def test_synchronized_seams_are_no_jumpier_than_the_rest(motions, stitch):
    assert seam_ratio(motions[("syncsde", stitch)]) <= 1.25


def test_doubletake_seams_are_no_jumpier_than_the_rest(motions):
    assert seam_ratio(motions[("doubletake", "crossfade")]) <= 1.25


def test_unsynchronized_pasted_windows_do_jump_at_seams(motions):
    # The same check on independent windows laid down in order: it sees their seams, jumpier than the rest of the
    # motion and than the synchronized windows' seams laid down the same way (1.24 vs 0.44 at the default overlap).
    ratio = seam_ratio(motions[("independent", "paste")])
    assert ratio > 1.0 and ratio > 2 * seam_ratio(motions[("syncsde", "paste")])


def test_the_body_stays_a_body(motions):
    positions = motions[("syncsde", "paste")].positions
    head_height = positions[:, 15, 1] - positions[:, :, 1].min(axis=1)
    assert 1.2 < np.median(head_height) < 2.0  # standing people, not noise
    assert positions[-1, 0, 2] - positions[0, 0, 2] > 1.0  # the walk goes somewhere
