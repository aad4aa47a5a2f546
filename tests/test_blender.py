"""Blender (headless) imports our GLB and BVH, and its joints stand where ours do at sampled frames."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from syncmotion.motion.bvh import save_bvh
from syncmotion.motion.gltf import save_gltf
from syncmotion.motion.io import load_motion
from syncmotion.motion.skeleton import JOINT_NAMES
from syncmotion.motion.types import Motion
from syncmotion_lab.corpus import sample_clip

BLENDER = shutil.which("blender")
SCRIPT = Path(__file__).parent / "blender" / "joint_positions.py"
pytestmark = pytest.mark.skipif(BLENDER is None, reason="no blender on this machine (.ci/run installs Debian's blender)")


def test_blender_reads_the_joints_we_wrote(tmp_path):
    rng = np.random.default_rng(11)
    positions = sample_clip(rng).positions
    motion = Motion((positions + rng.normal(0, 0.004, positions.shape)).astype(np.float32), fps=20.0)
    files = [save_gltf(motion, tmp_path / "m.glb"), save_gltf(motion, tmp_path / "m.gltf"), save_bvh(motion, tmp_path / "m.bvh")]
    frames = [0, 1, motion.num_frames // 2, motion.num_frames - 1]
    out = tmp_path / "blender.json"
    result = subprocess.run([BLENDER, "-b", "--factory-startup", "--python-exit-code", "3", "--python", str(SCRIPT), "--",
                             str(out), "20", ",".join(map(str, frames)), *map(str, files)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0 and out.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    ours = load_motion(files[0]).positions
    for path, by_frame in json.loads(out.read_text()).items():
        for frame, bones in by_frame.items():
            z_up = np.array([bones[name] for name in JOINT_NAMES])
            # Blender's world is z up; ours is y up (glTF's and the BVH's), facing +z.
            y_up = np.stack([z_up[:, 0], z_up[:, 2], -z_up[:, 1]], axis=-1)
            error = np.abs(y_up - ours[int(frame)]).max()
            assert error < 0.01, f"{Path(path).name} frame {frame}: Blender's joints are {error * 100:.2f} cm from ours"
