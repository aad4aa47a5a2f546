"""Procedural body rig: per-frame body controls to 22 joint positions with exact bone lengths.

Frames: world is y up, the body faces +z at yaw 0, +x is the body's left, positive yaw turns left.
Index 0 of every left/right pair is the left side (SIDE = +1), index 1 the right side (SIDE = -1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from syncmotion.motion.skeleton import BONE_LENGTHS, NUM_JOINTS

SIDE = np.array([1.0, -1.0])

# Anatomical bone directions in the parent segment's frame (x left, y up, z forward), for the side
# with x > 0; the right side mirrors x. Chosen to look like an SMPL body, not HumanML3D's raw offsets.
_HIP_DIR = np.array([0.85, -0.5, 0.05])
_COLLAR_DIR = np.array([0.8, 0.55, -0.1])
_SHOULDER_DIR = np.array([0.95, -0.2, -0.1])
_NECK_DIR = np.array([0.0, 1.0, 0.05])
_HEAD_DIR = np.array([0.0, 0.95, 0.3])
_SPINE_DIR = np.array([0.0, 1.0, -0.08])
# Share of the total spine bend carried below each spine bone's top joint: spine1, spine2, spine3, neck.
_SPINE_SHARE = (0.3, 0.65, 0.9, 1.0)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True).clip(1e-9)


@dataclass(frozen=True)
class Body:
    """Bone lengths of one person and the height of the ankle joint above a flat foot's sole."""

    lengths: np.ndarray
    ankle_height: float

    @property
    def thigh(self) -> float:
        """Hip to knee."""
        return float(self.lengths[4])

    @property
    def shin(self) -> float:
        """Knee to ankle."""
        return float(self.lengths[7])

    @property
    def foot(self) -> float:
        """Ankle to toe joint."""
        return float(self.lengths[10])

    @property
    def upper_arm(self) -> float:
        """Shoulder to elbow."""
        return float(self.lengths[18])

    @property
    def forearm(self) -> float:
        """Elbow to wrist."""
        return float(self.lengths[20])

    @property
    def hip_offset(self) -> np.ndarray:
        """Left hip from the pelvis in the pelvis frame."""
        return _unit(_HIP_DIR) * self.lengths[1]

    @property
    def stance_width(self) -> float:
        """Half the lateral distance between the ankles when standing."""
        return float(self.hip_offset[0]) + 0.01

    @property
    def stand_height(self) -> float:
        """Pelvis height when standing relaxed (knees very slightly bent)."""
        return self.ankle_height - float(self.hip_offset[1]) + 0.985 * (self.thigh + self.shin)

    def shoulder_offset(self) -> np.ndarray:
        """Left shoulder from spine3 in the chest frame."""
        return _unit(_COLLAR_DIR) * self.lengths[13] + _unit(_SHOULDER_DIR) * self.lengths[16]


def sample_body(rng: np.random.Generator) -> Body:
    """A random adult: overall size within ±5% and small per-segment differences, left/right symmetric."""
    lengths = np.asarray(BONE_LENGTHS, dtype=np.float64) * rng.uniform(0.95, 1.05)
    groups = {"legs": (4, 5, 7, 8), "feet": (10, 11), "spine": (3, 6, 9, 12, 15),
              "arms": (16, 17, 18, 19, 20, 21), "width": (1, 2, 13, 14)}
    for joints in groups.values():
        lengths[list(joints)] *= float(np.clip(rng.normal(1.0, 0.015), 0.97, 1.03))
    return Body(lengths=lengths, ankle_height=0.07 * float(lengths[10] / BONE_LENGTHS[10]))


def rot_x(a: np.ndarray) -> np.ndarray:
    """Rotation about x; positive angles tip +y toward +z (a forward bend)."""
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(np.shape(a) + (3, 3))
    r[..., 0, 0] = 1
    r[..., 1, 1], r[..., 1, 2], r[..., 2, 1], r[..., 2, 2] = c, -s, s, c
    return r


def rot_y(a: np.ndarray) -> np.ndarray:
    """Rotation about y; positive angles turn +z toward +x (a left turn)."""
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(np.shape(a) + (3, 3))
    r[..., 1, 1] = 1
    r[..., 0, 0], r[..., 0, 2], r[..., 2, 0], r[..., 2, 2] = c, s, -s, c
    return r


def rot_z(a: np.ndarray) -> np.ndarray:
    """Rotation about z; positive angles tip +y toward -x (a lean to the right)."""
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(np.shape(a) + (3, 3))
    r[..., 2, 2] = 1
    r[..., 0, 0], r[..., 0, 1], r[..., 1, 0], r[..., 1, 1] = c, -s, s, c
    return r


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("...ij,...j->...i", r, v)


def two_bone_ik(
    root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joints of a two-bone limb from `root` toward `target`, bending toward `pole`."""
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    u = d / dist.clip(1e-9)
    reach = dist.clip(abs(l1 - l2) + 1e-3, (l1 + l2) * 0.9995)
    along = (l1**2 - l2**2 + reach**2) / (2 * reach)
    height = np.sqrt((l1**2 - along**2).clip(0.0))
    bend = pole - (pole * u).sum(-1, keepdims=True) * u
    bend = _unit(bend)
    middle = root + u * along + bend * height
    return middle, root + u * reach


# Direction the forearm bends toward unless a pose says otherwise: forward and a little up.
DEFAULT_HINT = np.array([0.0, 0.3, 1.0])


def arm_pose(
    flex: np.ndarray, abduct: np.ndarray, elbow: np.ndarray, side: float, upper: float, fore: float,
    hint: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Wrist and elbow in the chest frame relative to the shoulder from joint angles.

    flex raises the arm forward (0 down, pi/2 forward, pi up), abduct raises it sideways, elbow bends
    the forearm toward `hint` (default forward-up), all in radians; arrays broadcast over frames.
    """
    flex, abduct, elbow = np.broadcast_arrays(flex, abduct, elbow)
    u = np.stack([side * np.sin(abduct), -np.cos(flex) * np.cos(abduct), np.sin(flex) * np.cos(abduct)], -1)
    if hint is None:
        hint = DEFAULT_HINT
    hint = np.broadcast_to(hint, u.shape)
    n = hint - (hint * u).sum(-1, keepdims=True) * u
    n = _unit(n + 1e-6 * np.array([0.0, 0.0, 1.0]))
    f = np.cos(elbow)[..., None] * u + np.sin(elbow)[..., None] * n
    elbow_pos = upper * u
    return elbow_pos + fore * f, elbow_pos


@dataclass
class Controls:
    """Per-frame controls of the rig; every array has T frames first."""

    root: np.ndarray          # [T, 3] pelvis position, world
    yaw: np.ndarray           # [T] pelvis heading
    ankles: np.ndarray        # [T, 2, 3] ankle targets, world
    foot_yaw: np.ndarray      # [T, 2] foot heading, world
    foot_pitch: np.ndarray    # [T, 2] toe-down rotation from a flat foot
    wrists: np.ndarray        # [T, 2, 3] wrist targets, chest frame, from each shoulder
    elbows: np.ndarray        # [T, 2, 3] elbow pole hints, chest frame, from each shoulder
    hinge: np.ndarray         # [T] whole trunk tipped forward at the hips
    bend: np.ndarray          # [T] spine curled forward (spread over the spine)
    lean: np.ndarray          # [T] spine lean to the left
    twist: np.ndarray         # [T] chest turn to the left relative to the pelvis
    roll: np.ndarray          # [T] pelvis tilt: positive drops the right hip
    head_pitch: np.ndarray    # [T] nod down
    head_yaw: np.ndarray      # [T] look left
    wrists_world: np.ndarray | None = None   # [T, 2, 3] world wrist targets ...
    world_weight: np.ndarray | None = None   # [T, 2] ... blended in with this weight

    @property
    def frames(self) -> int:
        """Number of frames."""
        return int(self.root.shape[0])


# Shoulder flexion, abduction and elbow flexion of relaxed hanging arms.
RELAXED_ARM = (0.05, 0.1, 0.15)


def hanging_arms(body: Body, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Wrist targets and elbow hints of relaxed arms hanging at the sides, [T, 2, 3] each."""
    wrists = np.empty((frames, 2, 3))
    elbows = np.empty((frames, 2, 3))
    for i, side in enumerate(SIDE):
        w, e = arm_pose(*(np.full(frames, a) for a in RELAXED_ARM), side, body.upper_arm, body.forearm)
        wrists[:, i], elbows[:, i] = w, e
    return wrists, elbows


def standing(body: Body, frames: int) -> Controls:
    """Controls of a relaxed standing pose at the origin facing +z."""
    zeros = np.zeros(frames)
    ankles = np.zeros((frames, 2, 3))
    ankles[:, :, 0] = SIDE * body.stance_width
    ankles[:, :, 1] = body.ankle_height
    wrists, elbows = hanging_arms(body, frames)
    root = np.zeros((frames, 3))
    root[:, 1] = body.stand_height
    return Controls(root=root, yaw=zeros.copy(), ankles=ankles, foot_yaw=np.zeros((frames, 2)),
                    foot_pitch=np.zeros((frames, 2)), wrists=wrists, elbows=elbows, hinge=zeros.copy(), bend=zeros.copy(),
                    lean=zeros.copy(), twist=zeros.copy(), roll=zeros.copy(), head_pitch=zeros.copy(),
                    head_yaw=zeros.copy())


def limit_reach(c: Controls, body: Body, smooth_frames: float = 1.5) -> None:
    """Lower the pelvis (in place) wherever a leg could not reach its ankle target."""
    limit = np.full(c.frames, np.inf)
    hips = c.root[:, None, :] + _apply(rot_y(c.yaw)[:, None], body.hip_offset * np.stack([SIDE, [1, 1], [1, 1]], -1))
    for i in range(2):
        horizontal = np.linalg.norm(hips[:, i, [0, 2]] - c.ankles[:, i, [0, 2]], axis=-1)
        leg = 0.995 * (body.thigh + body.shin)
        vertical = np.sqrt((leg**2 - horizontal**2).clip(0.0))
        limit = np.minimum(limit, c.ankles[:, i, 1] + vertical - (hips[:, i, 1] - c.root[:, 1]))
    height = np.minimum(c.root[:, 1], limit)
    if smooth_frames > 0:
        height = np.minimum(gaussian_filter1d(height, smooth_frames, mode="nearest"), limit)
    c.root[:, 1] = height


def build(c: Controls, body: Body) -> np.ndarray:
    """Joint positions [T, 22, 3] of the controls; every bone keeps its length exactly."""
    t = c.frames
    out = np.zeros((t, NUM_JOINTS, 3))
    lengths = body.lengths
    mirror = np.array([[1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]])
    pelvis_r = rot_y(c.yaw) @ rot_z(-c.roll)
    out[:, 0] = c.root
    for i, (hip, knee, ankle, toe) in enumerate(((1, 4, 7, 10), (2, 5, 8, 11))):
        out[:, hip] = c.root + _apply(pelvis_r, _unit(_HIP_DIR) * mirror[i] * lengths[hip])
        forward = np.stack([np.sin(c.yaw) + np.sin(c.foot_yaw[:, i]), np.zeros(t),
                            np.cos(c.yaw) + np.cos(c.foot_yaw[:, i])], -1)
        outward = np.stack([np.cos(c.yaw), np.zeros(t), -np.sin(c.yaw)], -1) * SIDE[i]
        pole = _unit(forward) + 0.15 * outward
        out[:, knee], out[:, ankle] = two_bone_ik(out[:, hip], c.ankles[:, i], lengths[knee], lengths[ankle], pole)
        # A foot cannot point below the floor: cap the toe-down angle so the toe joint stays at y >= 0.
        flat = np.arcsin(min(body.ankle_height / body.foot, 1.0))
        highest = np.arcsin((out[:, ankle, 1] / body.foot).clip(-1.0, 1.0))
        pitch = np.minimum(flat + c.foot_pitch[:, i], highest)
        fy = c.foot_yaw[:, i]
        direction = np.stack([np.sin(fy) * np.cos(pitch), -np.sin(pitch), np.cos(fy) * np.cos(pitch)], -1)
        out[:, toe] = out[:, ankle] + direction * lengths[toe]
    spine_r = []
    parent = out[:, 0]
    for share, joint in zip(_SPINE_SHARE, (3, 6, 9, 12)):
        r = rot_y(c.yaw + share * c.twist) @ rot_x(c.hinge + share * c.bend) @ rot_z(-share * c.lean)
        bone = _SPINE_DIR if joint != 12 else _NECK_DIR
        out[:, joint] = parent + _apply(r, _unit(bone) * lengths[joint])
        parent = out[:, joint]
        spine_r.append(r)
    chest_r = spine_r[2]
    head_r = spine_r[3] @ rot_y(c.head_yaw) @ rot_x(c.head_pitch)
    out[:, 15] = out[:, 12] + _apply(head_r, _unit(_HEAD_DIR) * lengths[15])
    for i, (collar, shoulder, elbow, wrist) in enumerate(((13, 16, 18, 20), (14, 17, 19, 21))):
        out[:, collar] = out[:, 9] + _apply(chest_r, _unit(_COLLAR_DIR) * mirror[i] * lengths[collar])
        out[:, shoulder] = out[:, collar] + _apply(chest_r, _unit(_SHOULDER_DIR) * mirror[i] * lengths[shoulder])
        target = out[:, shoulder] + _apply(chest_r, c.wrists[:, i])
        if c.wrists_world is not None and c.world_weight is not None:
            w = c.world_weight[:, i, None]
            target = (1 - w) * target + w * c.wrists_world[:, i]
        pole = _apply(chest_r, c.elbows[:, i])
        out[:, elbow], out[:, wrist] = two_bone_ik(out[:, shoulder], target, lengths[elbow], lengths[wrist], pole)
    return out
