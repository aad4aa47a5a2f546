"""AMASS-style npz: SMPL-H pose parameters in AMASS's z-up world, the layout AMASS's tools and HumanML3D's preprocessing read.

poses [T, 156] axis-angle in SMPL-H order: the global orientation (3), 21 body joints (63), then both hands' 15
joints (90; zero here). trans [T, 3] and the orientation are in AMASS's world, where z is up; HumanML3D brings
AMASS into its y-up frame with (x, y, z) -> (-x, z, y) (a swap of y and z, then x negated), so ours go the other
way. betas [16], gender, mocap_framerate and the soft-tissue dmpls [T, 8] (zero) complete AMASS's fields.
SMPL-H's 22 body joints are SMPL's first 22, so SMPL's fitted body pose fills them; its betas are SMPL's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from syncmotion.files import write_atomically

# Columns of a point in AMASS's world from ours: the inverse of HumanML3D's (x, y, z) -> (-x, z, y).
Y_UP_TO_AMASS = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
POSE_WIDTH = 156
BODY_WIDTH = 66  # global orientation + 21 body joints, axis-angle
BETAS = 16
DMPLS = 8


def amass_fields(params: dict[str, np.ndarray], pelvis: np.ndarray, fps: float, gender: str) -> dict[str, np.ndarray]:
    """AMASS's npz fields for SMPL parameters fitted in our y-up world; `pelvis` [3] is the rest pelvis of their betas."""
    frames = len(params["global_orient"])
    orientation = Rotation.from_matrix(Y_UP_TO_AMASS @ Rotation.from_rotvec(params["global_orient"]).as_matrix())
    poses = np.zeros((frames, POSE_WIDTH))
    poses[:, :3] = orientation.as_rotvec()
    poses[:, 3:BODY_WIDTH] = params["body_pose"][:, :BODY_WIDTH - 3]
    # The root turns about the rest pelvis, so moving the world moves the translation by that turn of the pelvis too.
    trans = (params["transl"] + pelvis) @ Y_UP_TO_AMASS.T - pelvis
    betas = np.zeros(BETAS)
    betas[:min(BETAS, len(params["betas"]))] = params["betas"][:BETAS]
    return {"poses": poses, "trans": trans.astype(np.float64), "betas": betas, "gender": np.array(gender),
            "mocap_framerate": np.array(float(fps)), "dmpls": np.zeros((frames, DMPLS))}


def save_amass(params: dict[str, np.ndarray], pelvis: np.ndarray, fps: float, gender: str, path: str | Path) -> Path:
    """Write AMASS's npz fields (see amass_fields) at `path`, never half-written; returns the path."""
    path = Path(path)
    fields = amass_fields(params, pelvis, fps, gender)

    def write(temporary: Path) -> None:
        with temporary.open("wb") as handle:  # a file object: given a name, np.savez would append ".npz"
            np.savez(handle, **fields)

    write_atomically(path, write)
    return path
