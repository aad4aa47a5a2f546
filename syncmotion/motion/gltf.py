"""glTF 2.0 files (.glb, or .gltf with its data inside): the rigid skeleton as a skin, animated, with a stick figure.

Written through pygltflib. Nodes 0-21 are the joints (named and parented as the skeleton), at rest in the T-pose of
`rig` (the BVH export's skeleton, so a GLB and a BVH of one motion give the same joints); the skin's inverse bind
matrices are that rest pose's. One animation holds every joint's rotation and the moving offsets' translations
(`rig.POSITION_JOINTS`) at every frame of the motion, linearly interpolated. Node 22 carries the skinned stick
figure. The scene's extras hold the JSON export's header under "syncmotion": fps, segments, seams, meta.
Units are metres, y up, the body facing +z at rest: glTF's own conventions.

Reading takes a glTF whose nodes include the 22 joints by name in the skeleton's tree (as written here), with the
data in the .glb or in data: URIs; it never opens other files the glTF names.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from pathlib import Path

import numpy as np
import pygltflib
from scipy.spatial.transform import Rotation

from syncmotion import __version__
from syncmotion.files import write_atomically

from .ik import CHILDREN
from .io import motion_from_header, motion_header
from .rig import POSITION_JOINTS, RigidAnimation, rigid_animation
from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from .stick_figure import stick_figure
from .types import Motion

EXTRAS_KEY = "syncmotion"
SUFFIXES = (".glb", ".gltf")
_DATA_URI = "data:application/octet-stream;base64,"
_COMPONENTS = {np.dtype(np.float32): pygltflib.FLOAT, np.dtype(np.uint8): pygltflib.UNSIGNED_BYTE}
_TYPES = {1: pygltflib.SCALAR, 3: pygltflib.VEC3, 4: pygltflib.VEC4, 16: pygltflib.MAT4}
_READ_DTYPES = {pygltflib.FLOAT: np.float32, pygltflib.UNSIGNED_BYTE: np.uint8, pygltflib.UNSIGNED_SHORT: np.uint16,
                pygltflib.UNSIGNED_INT: np.uint32, pygltflib.BYTE: np.int8, pygltflib.SHORT: np.int16}
_WIDTHS = {pygltflib.SCALAR: 1, pygltflib.VEC2: 2, pygltflib.VEC3: 3, pygltflib.VEC4: 4, pygltflib.MAT4: 16}


class _Blob:
    """The one binary buffer of a glTF being written: arrays appended as buffer views with their accessors."""

    def __init__(self, document: pygltflib.GLTF2) -> None:
        self.document = document
        self.data = bytearray()

    def add(self, array: np.ndarray, target: int | None = None, bounds: bool = False) -> int:
        """Append `array` [count, width] (or [count]) and return its accessor's index; `bounds` adds min and max."""
        array = np.ascontiguousarray(array)
        rows = array.reshape(len(array), -1)
        self.data.extend(b"\0" * (-len(self.data) % 4))  # every view starts 4-byte aligned, as the spec asks
        self.document.bufferViews.append(pygltflib.BufferView(buffer=0, byteOffset=len(self.data), byteLength=array.nbytes,
                                                              target=target))
        self.data.extend(array.tobytes())
        accessor = pygltflib.Accessor(bufferView=len(self.document.bufferViews) - 1, componentType=_COMPONENTS[array.dtype],
                                      count=len(array), type=_TYPES[rows.shape[1]])
        if bounds:
            accessor.min, accessor.max = rows.min(axis=0).tolist(), rows.max(axis=0).tolist()
        self.document.accessors.append(accessor)
        return len(self.document.accessors) - 1


def _continuous(quaternions: np.ndarray) -> np.ndarray:
    """Quaternions [T, ..., 4] with signs flipped so that each is on the same side as the one before it."""
    # q and -q are the same turn, but interpolating between a sign flip turns the long way round.
    dots = (quaternions[1:] * quaternions[:-1]).sum(axis=-1, keepdims=True)
    signs = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
    return np.concatenate([quaternions[:1], quaternions[1:] * signs])


def _skeleton(document: pygltflib.GLTF2, blob: _Blob, rest: np.ndarray) -> None:
    """Add the joint nodes at rest offsets [22, 3], the skin, and the stick figure skinned to it."""
    rest_world = np.zeros((NUM_JOINTS, 3))
    for joint in range(NUM_JOINTS):
        rest_world[joint] = rest[joint] + (rest_world[PARENTS[joint]] if joint else 0.0)
        document.nodes.append(pygltflib.Node(name=JOINT_NAMES[joint], translation=rest[joint].tolist(),
                                             children=list(CHILDREN[joint])))
    # Rest rotations are identities, so each inverse bind matrix only moves the joint back to the origin.
    inverse_bind = np.tile(np.eye(4), (NUM_JOINTS, 1, 1))
    inverse_bind[:, :3, 3] = -rest_world
    # glTF stores matrices column by column.
    matrices = blob.add(inverse_bind.transpose(0, 2, 1).reshape(NUM_JOINTS, 16).astype(np.float32))
    document.skins.append(pygltflib.Skin(name="skeleton", joints=list(range(NUM_JOINTS)), skeleton=0,
                                         inverseBindMatrices=matrices))
    primitives = []
    for limb in stick_figure(rest_world):
        joints = np.zeros((len(limb.joints), 4), dtype=np.uint8)
        joints[:, 0] = limb.joints
        weights = np.zeros((len(limb.joints), 4), dtype=np.float32)
        weights[:, 0] = 1.0
        attributes = pygltflib.Attributes(
            POSITION=blob.add(limb.positions, pygltflib.ARRAY_BUFFER, bounds=True),
            NORMAL=blob.add(limb.normals, pygltflib.ARRAY_BUFFER), JOINTS_0=blob.add(joints, pygltflib.ARRAY_BUFFER),
            WEIGHTS_0=blob.add(weights, pygltflib.ARRAY_BUFFER))
        document.materials.append(pygltflib.Material(name=limb.name, pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
            baseColorFactor=[*limb.colour, 1.0], metallicFactor=0.0, roughnessFactor=0.6)))
        primitives.append(pygltflib.Primitive(attributes=attributes, material=len(document.materials) - 1))
    document.meshes.append(pygltflib.Mesh(name="stick_figure", primitives=primitives))
    # A skinned mesh's node sits at the scene's root without a transform of its own: the joints place it.
    document.nodes.append(pygltflib.Node(name="stick_figure", mesh=0, skin=0))


def _animation(document: pygltflib.GLTF2, blob: _Blob, rig: RigidAnimation) -> None:
    """Add one animation: every joint's rotation and the moving offsets' translations at every frame."""
    frames = len(rig.rotations)
    times = blob.add((np.arange(frames) / rig.fps).astype(np.float32), bounds=True)
    quaternions = Rotation.from_matrix(rig.rotations.reshape(-1, 3, 3)).as_quat().reshape(frames, NUM_JOINTS, 4)
    quaternions = _continuous(quaternions).astype(np.float32)
    animation = pygltflib.Animation(name="motion")
    tracks = [(joint, "rotation", quaternions[:, joint]) for joint in range(NUM_JOINTS)]
    tracks += [(joint, "translation", rig.translations[:, joint].astype(np.float32)) for joint in POSITION_JOINTS]
    for joint, path, values in tracks:
        animation.samplers.append(pygltflib.AnimationSampler(input=times, output=blob.add(values), interpolation="LINEAR"))
        animation.channels.append(pygltflib.AnimationChannel(
            sampler=len(animation.samplers) - 1, target=pygltflib.AnimationChannelTarget(node=joint, path=path)))
    document.animations.append(animation)


def gltf_document(motion: Motion) -> tuple[pygltflib.GLTF2, bytes]:
    """The glTF document of `motion` and its binary buffer (the buffer's uri is left for the caller to set)."""
    rig = rigid_animation(motion, "glTF export")
    document = pygltflib.GLTF2(asset=pygltflib.Asset(generator=f"syncmotion {__version__} (pygltflib)"))
    blob = _Blob(document)
    rest = rig.rest.copy()
    rest[0, [0, 2]] = 0.0  # at rest the T-pose stands over the origin, at the motion's mean pelvis height
    _skeleton(document, blob, rest)
    _animation(document, blob, rig)
    document.scenes.append(pygltflib.Scene(name="motion", nodes=[0, NUM_JOINTS], extras={EXTRAS_KEY: motion_header(motion)}))
    document.scene = 0
    data = bytes(blob.data) + b"\0" * (-len(blob.data) % 4)
    document.buffers.append(pygltflib.Buffer(byteLength=len(data)))
    return document, data


def save_gltf(motion: Motion, path: str | Path) -> Path:
    """Write `motion` as .glb (binary) or .gltf (JSON, data inside) by the suffix of `path`, never half-written."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"{path}: a glTF file name ends in .glb or .gltf")
    document, data = gltf_document(motion)
    if path.suffix.lower() == ".glb":
        document.set_binary_blob(data)
        content = b"".join(document.save_to_bytes())
    else:
        document.buffers[0].uri = _DATA_URI + base64.b64encode(data).decode("ascii")
        content = document.gltf_to_json(separators=(",", ":"), indent=None).encode("utf-8")
    write_atomically(path, lambda temporary: temporary.write_bytes(content))
    return path


def _buffers(document: pygltflib.GLTF2) -> list[bytes]:
    """The bytes of each buffer: the .glb's own, or a data: URI's; a ValueError for anything else."""
    found = []
    for buffer in document.buffers:
        if buffer.uri is None:
            data = document.binary_blob()
            if data is None or found:
                raise ValueError("a buffer has no data")
        elif buffer.uri.startswith("data:") and ";base64," in buffer.uri:
            data = base64.b64decode(buffer.uri.split(";base64,", 1)[1], validate=True)
        else:
            raise ValueError("its data are in another file; convert it to .glb (or embed its buffers) first")
        found.append(bytes(data))
    return found


def _accessor(document: pygltflib.GLTF2, buffers: list[bytes], index: int) -> np.ndarray:
    """Accessor `index` as a float64 array [count, width]."""
    accessor = document.accessors[index]
    if accessor.sparse is not None or accessor.bufferView is None:
        raise ValueError("sparse or empty accessors are not read")
    view = document.bufferViews[accessor.bufferView]
    dtype = np.dtype(_READ_DTYPES[accessor.componentType]).newbyteorder("<")
    width = _WIDTHS[accessor.type]
    stride = view.byteStride or dtype.itemsize * width
    start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
    end = start + (accessor.count - 1) * stride + dtype.itemsize * width
    if accessor.count < 1 or start < 0 or end > min(len(buffers[view.buffer]), (view.byteOffset or 0) + view.byteLength):
        raise ValueError(f"accessor {index} reaches past the end of its buffer (the file is cut short or damaged)")
    array = np.ndarray((accessor.count, width), dtype=dtype, buffer=buffers[view.buffer], offset=start,
                       strides=(stride, dtype.itemsize))
    if accessor.normalized and dtype.kind in "iu":
        return np.maximum(array / np.iinfo(dtype).max, -1.0)
    return array.astype(np.float64)


def _local_transforms(node: pygltflib.Node) -> tuple[np.ndarray, np.ndarray]:
    """A node's rest (translation [3], rotation as a quaternion [4]); a ValueError when it scales."""
    if node.matrix is not None:
        matrix = np.asarray(node.matrix, dtype=np.float64).reshape(4, 4).T
        if not np.allclose(np.linalg.norm(matrix[:3, :3], axis=0), 1.0, atol=1e-4):
            raise ValueError(f"node {node.name!r} scales; only rotations and translations are read")
        return matrix[:3, 3], Rotation.from_matrix(matrix[:3, :3]).as_quat()
    if node.scale is not None and not np.allclose(node.scale, 1.0, atol=1e-4):
        raise ValueError(f"node {node.name!r} scales; only rotations and translations are read")
    translation = np.asarray(node.translation if node.translation is not None else [0.0, 0.0, 0.0], dtype=np.float64)
    rotation = np.asarray(node.rotation if node.rotation is not None else [0.0, 0.0, 0.0, 1.0], dtype=np.float64)
    if translation.shape != (3,) or rotation.shape != (4,):
        raise ValueError(f"node {node.name!r} has a malformed translation or rotation")
    return translation, rotation


def _joint_nodes(document: pygltflib.GLTF2) -> tuple[list[int], dict[int, int]]:
    """The node index of each joint in JOINT_NAMES order, and every node's parent; a ValueError when the tree differs."""
    parents = {child: index for index, node in enumerate(document.nodes) for child in node.children or []}
    names = [node.name for node in document.nodes]
    missing = [name for name in JOINT_NAMES if names.count(name) != 1]
    if missing:
        raise ValueError(f"it does not have one node for each of the 22 joints ({', '.join(missing[:3])}, ... missing or twice)")
    nodes = [names.index(name) for name in JOINT_NAMES]
    if any(parents.get(nodes[joint]) != nodes[PARENTS[joint]] for joint in range(1, NUM_JOINTS)):
        raise ValueError("its joints are the HumanML3D ones but in another tree")
    return nodes, parents


def _rig_from_gltf(document: pygltflib.GLTF2, buffers: list[bytes]) -> tuple[RigidAnimation, np.ndarray, np.ndarray]:
    """The joints' rigid animation, the static transform [4, 4] above the pelvis, and the key times [T]."""
    nodes, parents = _joint_nodes(document)
    rest = [_local_transforms(document.nodes[node]) for node in nodes]
    animation = document.animations[0] if document.animations else pygltflib.Animation()
    times: np.ndarray | None = None
    keyed: dict[tuple[int, str], np.ndarray] = {}
    for number, channel in enumerate(animation.channels):
        sampler = animation.samplers[channel.sampler]
        node, path = channel.target.node, channel.target.path
        if node not in nodes:
            if path != "weights" and node is not None:
                raise ValueError(f"it animates node {document.nodes[node].name!r}, which is not a joint; "
                                 "only joint animations are read")
            continue
        channel_times = _accessor(document, buffers, sampler.input)[:, 0]
        values = _accessor(document, buffers, sampler.output)
        if sampler.interpolation == "CUBICSPLINE":
            values = values[1::3]  # (in-tangent, value, out-tangent) per key: the keys' own values
        if times is not None and (len(channel_times) != len(times) or not np.allclose(channel_times, times, atol=1e-4)):
            raise ValueError("its joint animations are keyed at different times; bake them to one key per frame first")
        times = channel_times
        if path == "scale":
            if not np.allclose(values, 1.0, atol=1e-4):
                raise ValueError("it animates a joint's scale; only rotations and translations are read")
            continue
        if path not in ("rotation", "translation") or len(values) != len(times):
            raise ValueError(f"channel {number} ({path}) does not hold one {path} per key")
        keyed[(nodes.index(node), path)] = values
    times = np.zeros(1) if times is None else times
    frames = len(times)
    quaternions = np.array([keyed.get((joint, "rotation"), np.tile(rest[joint][1], (frames, 1))) for joint in range(NUM_JOINTS)])
    translations = np.array([keyed.get((joint, "translation"), np.tile(rest[joint][0], (frames, 1)))
                             for joint in range(NUM_JOINTS)])
    if not (np.isfinite(quaternions).all() and np.isfinite(translations).all()):
        raise ValueError("its joint transforms hold NaN or infinite values")
    rotations = Rotation.from_quat(quaternions.reshape(-1, 4)).as_matrix().reshape(NUM_JOINTS, frames, 3, 3)
    above = np.eye(4)
    node = parents.get(nodes[0])
    ancestors: set[int] = set()
    while node is not None:
        if node in ancestors or node in nodes:
            raise ValueError("its node tree loops above the pelvis")
        ancestors.add(node)
        translation, rotation = _local_transforms(document.nodes[node])
        local = np.eye(4)
        local[:3, :3], local[:3, 3] = Rotation.from_quat(rotation).as_matrix(), translation
        above = local @ above
        node = parents.get(node)
    fps = 1.0 / float(np.median(np.diff(times))) if frames > 1 else 20.0
    return RigidAnimation(rotations.swapaxes(0, 1), translations.swapaxes(0, 1), fps), above, times


def load_gltf(path: str | Path) -> Motion:
    """A motion from a .glb or .gltf of the 22-joint skeleton (as save_gltf writes it), positions by forward kinematics."""
    path = Path(path)
    refusal = f"{path} is not a glTF motion of the 22-joint skeleton"
    try:
        data = path.read_bytes()
        if data[:4] == b"glTF":
            document = pygltflib.GLTF2.load_from_bytes(data)
        else:
            document = pygltflib.GLTF2.gltf_from_json(data.decode("utf-8"))
        if document is None:
            raise ValueError("it has no JSON chunk")
        rig, above, times = _rig_from_gltf(document, _buffers(document))
        scene = document.scenes[document.scene or 0] if document.scenes else pygltflib.Scene()
        header = (scene.extras or {}).get(EXTRAS_KEY) or {"fps": rig.fps}
        if not isinstance(header, dict):
            raise ValueError(f"its scene's {EXTRAS_KEY!r} extras are not a dictionary")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error, binascii.Error, UnicodeDecodeError,
            json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{refusal}: {error or type(error).__name__}") from None
    with np.errstate(over="ignore", invalid="ignore"):
        positions = rig.positions() @ above[:3, :3].T + above[:3, 3]
    try:
        return motion_from_header(header, positions)
    except ValueError as error:
        raise ValueError(f"{path}: {error}; re-export it with syncmotion") from None
