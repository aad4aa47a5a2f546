"""The 22-joint HumanML3D (SMPL body) skeleton: names, parents, kinematic chain, rest offsets, forward kinematics."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the functions that compute: reading and drawing motion files need none
    import torch

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
# HumanML3D's frame rate: what MDM and the embedded model make.
FPS = 20.0
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

# Limb chains as HumanML3D draws them: right leg, left leg, spine+head, right arm, left arm.
KINEMATIC_CHAIN: tuple[tuple[int, ...], ...] = (
    (0, 2, 5, 8, 11),
    (0, 1, 4, 7, 10),
    (0, 3, 6, 9, 12, 15),
    (9, 14, 17, 19, 21),
    (9, 13, 16, 18, 20),
)

# HumanML3D's rest directions (t2m_raw_offsets): y up, z forward, +x is the body's left.
REST_DIRECTIONS: tuple[tuple[float, float, float], ...] = (
    (0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0),
    (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0),
    (-1, 0, 0), (0, 0, 1), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0),
)

# Bone lengths in metres of an average adult (about 1.70 m), indexed by child joint.
BONE_LENGTHS: tuple[float, ...] = (
    0.0, 0.09, 0.09, 0.11, 0.38, 0.38, 0.13, 0.40, 0.40, 0.05, 0.13, 0.13, 0.21,
    0.08, 0.08, 0.10, 0.12, 0.12, 0.26, 0.26, 0.25, 0.25,
)

FOOT_JOINTS: tuple[int, ...] = (7, 10, 8, 11)  # left ankle, left foot, right ankle, right foot
LEFT_FOOT_JOINTS: tuple[int, int] = (7, 10)
RIGHT_FOOT_JOINTS: tuple[int, int] = (8, 11)
HIP_JOINTS: tuple[int, int] = (2, 1)  # right, left (HumanML3D's face_joint_indx order r_hip, l_hip)
SHOULDER_JOINTS: tuple[int, int] = (17, 16)  # right, left


def rest_offsets(lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Rest-pose offsets of each joint from its parent, [22, 3] in metres."""
    import torch

    directions = torch.tensor(REST_DIRECTIONS, dtype=torch.float32)
    if lengths is None:
        lengths = torch.tensor(BONE_LENGTHS, dtype=torch.float32)
    return directions * lengths[..., None]


def forward_kinematics(
    local_rotations: torch.Tensor, root_positions: torch.Tensor, offsets: torch.Tensor | None = None
) -> torch.Tensor:
    """Global joint positions [..., 22, 3] from local rotation matrices [..., 22, 3, 3] and root positions [..., 3]."""
    import torch

    if offsets is None:
        offsets = rest_offsets().to(local_rotations)
    global_rotations: list[torch.Tensor] = [local_rotations[..., 0, :, :]]
    positions: list[torch.Tensor] = [root_positions]
    for joint in range(1, NUM_JOINTS):
        parent = PARENTS[joint]
        parent_rotation = global_rotations[parent]
        positions.append(positions[parent] + (parent_rotation @ offsets[..., joint, :, None])[..., 0])
        global_rotations.append(parent_rotation @ local_rotations[..., joint, :, :])
    return torch.stack(positions, dim=-2)
