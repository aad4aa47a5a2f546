"""SMPL body parameters for a motion, through smplx and the user's own SMPL model file.

The fit starts from inverse kinematics on SMPL's rest skeleton (the model's J_regressor applied to its
template) and then refines pose, translation and shape for a few Adam steps on the joint positions. Parameters
are in the motion's frame (metres, y up, facing +z at rest like the SMPL template), per frame axis-angle:
global_orient [T, 3], body_pose [T, 69] (23 joints; the two hand joints stay 0), transl [T, 3], betas [B].
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
import torch
from scipy.spatial.transform import Rotation

from syncmotion.files import write_atomically
from syncmotion.safe_pickle import StandIn, UnsafePickleError, load_pickle

from .arrays import check_finite, check_joints, to_tensor
from .ik import solve_rotations
from .skeleton import NUM_JOINTS, PARENTS
from .types import Motion

SMPL_JOINTS = 24
MODEL_FIELDS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
INSTALL_HINT = "pip install syncmotion[smpl]"
MODEL_HINT = "download SMPL from https://smpl.is.tue.mpg.de and pass SMPL_NEUTRAL.pkl/.npz or its folder"
# SMPL's own .pkl files hold chumpy arrays (the value is in the pickled state's 'x') and scipy sparse joint
# regressors; both are read as stand-ins and made plain arrays, so neither package is imported or needed.
CHUMPY_ARRAY = "chumpy.ch.Ch"
SPARSE_MATRICES = {f"scipy.sparse.{private}{kind}.{kind}_matrix": kind for private in ("", "_") for kind in ("csc", "csr")}


def _smplx() -> Any:
    try:
        import smplx
    except ImportError:
        raise ImportError(f"SMPL export needs the smplx package: {INSTALL_HINT}") from None
    return smplx


def _model_file(model_path: str | Path, gender: str) -> Path:
    """The SMPL model file: `model_path` itself, or SMPL_<GENDER>.npz/.pkl in it (or in its smpl/ folder)."""
    path = Path(model_path)
    if path.is_dir():
        names = [f"SMPL_{gender.upper()}.npz", f"SMPL_{gender.upper()}.pkl"]
        for folder in (path, path / "smpl"):
            for name in names:
                if (folder / name).is_file():
                    return folder / name
        raise FileNotFoundError(f"no {names[0]} or {names[1]} in {path}; {MODEL_HINT}")
    if not path.is_file():
        raise FileNotFoundError(f"SMPL model file {path} does not exist; {MODEL_HINT}")
    return path


def _plain_array(value: object) -> np.ndarray:
    """A model field as a numeric NumPy array: a chumpy array's value, a sparse matrix made dense, or the array itself."""
    if isinstance(value, StandIn) and value.class_name == CHUMPY_ARRAY:
        array = np.asarray(value.state["x"])
    elif isinstance(value, StandIn):
        state = value.state
        matrix = getattr(scipy.sparse, f"{SPARSE_MATRICES[value.class_name]}_matrix")
        array = matrix((state["data"], state["indices"], state["indptr"]), shape=state["_shape"]).toarray()
    else:
        array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"expected numbers, got a {array.dtype} array")
    return array


def _pickled_fields(path: Path) -> dict[str, np.ndarray]:
    """The model fields of an SMPL .pkl, unpickled through an allow-list so that nothing in the file runs."""
    try:
        with path.open("rb") as file:
            # SMPL's files were pickled by Python 2: latin1 turns their byte strings back into NumPy's raw data.
            model = load_pickle(file, stand_ins=(CHUMPY_ARRAY, *SPARSE_MATRICES), encoding="latin1")
    except UnsafePickleError as error:
        raise ValueError(f"{path} holds a pickled {error.name!r}, which is not read from SMPL files; refusing to load it "
                         "(only NumPy arrays, chumpy.ch.Ch arrays and scipy sparse matrices are read)") from None
    except ValueError as error:
        raise ValueError(f"{path} is not an SMPL model file ({error})") from None
    if not isinstance(model, dict):
        raise ValueError(f"{path} is not an SMPL model: it holds a {type(model).__name__}, not a dictionary")
    try:
        return {key: _plain_array(model[key]) for key in MODEL_FIELDS if key in model}
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: malformed SMPL model field ({type(error).__name__}: {error})") from None


def load_smpl(model_path: str | Path, gender: str = "neutral") -> Any:
    """An smplx.SMPL body model from a .pkl or .npz file, or a folder holding SMPL_<GENDER>.pkl/.npz."""
    smplx = _smplx()
    path = _model_file(model_path, gender)
    if path.suffix == ".npz":
        # Only the model's arrays are read, so files that also carry pickled extras load without pickle.
        with np.load(path) as data:
            fields = {key: data[key] for key in MODEL_FIELDS if key in data.files}
    else:
        fields = _pickled_fields(path)
    missing = set(MODEL_FIELDS) - set(fields)
    if missing:
        raise ValueError(f"{path} is not an SMPL model: it lacks {', '.join(sorted(missing))}")
    # smplx prints a warning about 10-component shape spaces on every load; it is not news to our users.
    with contextlib.redirect_stdout(io.StringIO()):
        model = smplx.SMPL(str(path), data_struct=smplx.utils.Struct(**fields), gender=gender)
    parents = model.parents.tolist()
    if model.J_regressor.shape[0] != SMPL_JOINTS or parents[1:NUM_JOINTS] != list(PARENTS[1:]):
        raise ValueError(f"{path} is not an SMPL body model (24 joints in SMPL's tree); SMPL-H/SMPL-X files are not supported")
    return model


def _rest_joints(model: Any, betas: torch.Tensor) -> torch.Tensor:
    """SMPL's rest joints [1, 24, 3] for shape `betas` [1, B]."""
    lbs = _smplx().lbs
    return lbs.vertices2joints(model.J_regressor, model.v_template + lbs.blend_shapes(betas, model.shapedirs))


def smpl_joints(model: Any, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """SMPL's posed joints [T, 24, 3] for global_orient, body_pose, transl [T, ...] and betas [B]."""
    lbs = _smplx().lbs
    frames = params["global_orient"].shape[0]
    rest = _rest_joints(model, params["betas"].reshape(1, -1))
    pose = torch.cat([params["global_orient"], params["body_pose"]], dim=1).reshape(-1, 3)
    rotations = lbs.batch_rodrigues(pose).reshape(frames, SMPL_JOINTS, 3, 3)
    posed, _ = lbs.batch_rigid_transform(rotations, rest.expand(frames, -1, -1).contiguous(), model.parents)
    return posed + params["transl"][:, None, :]


def fit_smpl(motion: Motion, model_path: str | Path, gender: str = "neutral", steps: int = 50,
             learning_rate: float = 0.01) -> dict[str, np.ndarray]:
    """Per-frame SMPL parameters (global_orient, body_pose, transl, betas) whose joints follow the motion's 22 joints."""
    positions, _ = to_tensor(motion.positions)
    check_joints(positions, 1)
    if positions.ndim != 3:
        raise ValueError(f"SMPL export needs one motion shaped [T, 22, 3], got {tuple(positions.shape)}")
    check_finite(positions, "SMPL export")
    if steps < 0:
        raise ValueError(f"steps must be 0 or more, got {steps}")
    model = load_smpl(model_path, gender)
    with torch.no_grad():
        rest = _rest_joints(model, torch.zeros(1, model.num_betas))[0]
    offsets = rest - rest[[max(parent, 0) for parent in model.parents.tolist()]]
    local = solve_rotations(positions, offsets[:NUM_JOINTS]).double().numpy()
    rotvecs = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(len(local), NUM_JOINTS * 3)
    frames = len(local)
    body_pose = np.zeros((frames, (SMPL_JOINTS - 1) * 3))
    body_pose[:, : (NUM_JOINTS - 1) * 3] = rotvecs[:, 3:]
    params = {
        "global_orient": torch.tensor(rotvecs[:, :3], dtype=torch.float32),
        "body_pose": torch.tensor(body_pose, dtype=torch.float32),
        "transl": positions[:, 0] - rest[0],
        "betas": torch.zeros(model.num_betas),
    }
    if steps:
        params = _refine(model, params, positions, steps, learning_rate)
    return {name: value.detach().numpy().astype(np.float32) for name, value in params.items()}


def _refine(model: Any, params: dict[str, torch.Tensor], positions: torch.Tensor, steps: int,
            learning_rate: float) -> dict[str, torch.Tensor]:
    """Adam on the squared distance of SMPL's first 22 joints to the motion's (the hand joints get no gradient)."""
    variables = {name: value.clone().requires_grad_(True) for name, value in params.items()}
    optimizer = torch.optim.Adam(variables.values(), lr=learning_rate)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((smpl_joints(model, variables)[:, :NUM_JOINTS] - positions) ** 2).sum(-1).mean()
        loss.backward()
        optimizer.step()
    return {name: value.detach() for name, value in variables.items()}


def save_smpl(motion: Motion, model_path: str | Path, out_path: str | Path, gender: str = "neutral",
              steps: int = 50, amass_path: str | Path | None = None) -> list[Path]:
    """Fit SMPL to `motion`; write the parameters (+ fps, gender) to `out_path`, AMASS-style to `amass_path`; returns the paths."""
    from .amass import save_amass

    params = fit_smpl(motion, model_path, gender=gender, steps=steps)
    out_path = Path(out_path)

    def write(temporary: Path) -> None:
        # Through a file object: given a name, np.savez would append ".npz" to one that lacks it.
        with temporary.open("wb") as handle:
            np.savez(handle, **params, fps=np.float32(motion.fps), gender=np.str_(gender))

    write_atomically(out_path, write)
    if amass_path is None:
        return [out_path]
    with torch.no_grad():
        pelvis = _rest_joints(load_smpl(model_path, gender), torch.from_numpy(params["betas"]).reshape(1, -1))[0, 0].numpy()
    return [out_path, save_amass(params, pelvis.astype(np.float64), motion.fps, gender, amass_path)]
