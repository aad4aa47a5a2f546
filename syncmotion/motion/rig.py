"""The rigid skeleton animation that the BVH and glTF exports share: one T-pose, local rotations, a few moving offsets.

Both exports write the same rotations on the same skeleton, so a BVH and a GLB of one motion give the same joint
positions. The rest pose is a T-pose with the motion's mean bone lengths (y up, z forward, +x the body's left).
The root, and the children of the pelvis and of spine3 (hips, spine1, neck, collars), also move in their parent:
their place relative to the parent changes a little in real motions, and a single rotation of the parent cannot
follow all its children at once, so these offsets are animated per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .arrays import check_finite, to_tensor
from .ik import BRANCH_FRAMES, CHILDREN, joint_rotations
from .skeleton import NUM_JOINTS, forward_kinematics
from .types import Motion

POSITION_JOINTS: tuple[int, ...] = (0,) + tuple(sorted(c for joint in BRANCH_FRAMES for c in CHILDREN[joint]))
# Tips beyond the leaf joints (toes, head top, fingertips) as a fraction of the bone before them.
END_SITE_SHARE = 0.4


@dataclass(frozen=True)
class RigidAnimation:
    """Local rotations [T, 22, 3, 3] and translations [T, 22, 3] (the root's position, then each joint's offset)."""

    rotations: np.ndarray
    translations: np.ndarray
    fps: float

    @property
    def rest(self) -> np.ndarray:
        """The T-pose offsets [22, 3] from each joint's parent (the root's: its mean position)."""
        return self.translations.mean(axis=0)

    def positions(self) -> np.ndarray:
        """World joint positions [T, 22, 3] of the rigid skeleton."""
        rotations, translations = torch.from_numpy(self.rotations), torch.from_numpy(self.translations)
        return forward_kinematics(rotations, translations[:, 0], translations).numpy()


def rigid_animation(motion: Motion, purpose: str) -> RigidAnimation:
    """The rigid skeleton animation of `motion`, or a ValueError naming `purpose` when the motion cannot have one."""
    positions, _ = to_tensor(motion.positions)
    if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3) or positions.shape[0] < 1:
        raise ValueError(f"{purpose} needs positions shaped [T, 22, 3], got {tuple(positions.shape)}")
    check_finite(positions, purpose)
    if not motion.fps > 0:
        raise ValueError(f"{purpose} needs a positive frame rate, got fps={motion.fps}")
    rotations, root, offsets = (part.double().numpy() for part in joint_rotations(positions))
    translations = offsets.copy()
    translations[:, 0] = root
    return RigidAnimation(rotations, translations, float(motion.fps))
