"""Untrusted input files: pickled code is refused before it runs, real files still load, damaged files fail in one line."""

from __future__ import annotations

import argparse
import fractions
import io
import json
import os
import pickle
import struct
import subprocess
import zipfile
from typing import Dict, List, Tuple

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from safetensors.torch import save_file
from torch import nn

from syncmotion.backends.clip_text import read_openai_clip, torchscript_tensors
from syncmotion.backends.mdm import read_state_dict
from syncmotion.cli import main
from syncmotion.motion.io import load_motion, save_results_npy
from syncmotion.motion.smpl import load_smpl
from syncmotion.motion.types import Motion, Segment
from syncmotion.safe_pickle import StandIn, UnsafePickleError, load_npy, load_pickle

# torch deprecates TorchScript, the format of OpenAI's clip cache file, which these tests write.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

# os.system pickles under the module that defines it: posix here, nt on Windows.
SYSTEM = f"{os.system.__module__}.system"


def payload(function, *args):
    """An object whose unpickling calls function(*args): what a crafted data file carries."""
    class Payload:
        def __reduce__(self):
            return function, args

    return Payload()


def mdm_results(rng, lengths=(40, 50), frames=50):
    """A results.npy dictionary as MDM's sample script writes it."""
    return {"motion": rng.normal(size=(len(lengths), 22, 3, frames)).astype(np.float32),
            "text": [f"a person walks {i}" for i in range(len(lengths))], "lengths": np.array(lengths),
            "num_samples": len(lengths), "num_repetitions": 1}


def assert_same(loaded, expected):
    """Equal values of equal types, through dicts, lists and tuples."""
    assert type(loaded) is type(expected)
    if isinstance(expected, dict):
        assert list(loaded) == list(expected)
        for key in expected:
            assert_same(loaded[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(loaded) == len(expected)
        for left, right in zip(loaded, expected):
            assert_same(left, right)
    elif isinstance(expected, np.ndarray):
        assert loaded.dtype == expected.dtype and loaded.shape == expected.shape and loaded.strides == expected.strides
        if expected.dtype == object:
            for left, right in zip(loaded.ravel(), expected.ravel()):
                assert_same(left, right)
        else:
            np.testing.assert_array_equal(loaded, expected)
    else:
        assert loaded == expected


def touch(marker):
    """The command a crafted file runs in these tests: os.system("touch MARKER")."""
    return payload(os.system, f"touch {marker}")


STILL = np.zeros((1, 22, 3, 5))
# Where a crafted results.npy hides its payload, and the global its pickle names.
CRAFTED = {
    "os.system": (SYSTEM, lambda marker: {"motion": STILL, "text": [touch(marker)]}),
    "builtins.eval": ("builtins.eval", lambda marker: {"motion": payload(eval, f"__import__('os').system('touch {marker}')")}),
    "subprocess.Popen": ("subprocess.Popen",
                         lambda marker: {"motion": STILL, "syncmotion": [payload(subprocess.Popen, ["touch", str(marker)])]}),
    "nested in a list": (SYSTEM, lambda marker: {"motion": STILL, "syncmotion": [{"meta": {"notes": [1, touch(marker)]}}]}),
    "in an object array": (SYSTEM, lambda marker: {"motion": np.array([touch(marker)], dtype=object)}),
    "as the whole file": (SYSTEM, lambda marker: np.array([touch(marker), 1], dtype=object)),
}


def test_the_crafted_payload_runs_under_plain_pickle(tmp_path):
    """The files below are live: np.load(allow_pickle=True), what the reader used to do, runs their command."""
    marker = tmp_path / "MARKER"
    np.save(tmp_path / "evil.npy", CRAFTED["os.system"][1](marker), allow_pickle=True)
    np.load(tmp_path / "evil.npy", allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("case", list(CRAFTED))
def test_pickled_code_in_a_results_npy_is_refused_before_it_runs(tmp_path, case):
    name, build = CRAFTED[case]
    marker = tmp_path / "MARKER"
    np.save(tmp_path / "evil.npy", build(marker), allow_pickle=True)
    with pytest.raises(ValueError, match="refusing to load it") as error:
        load_motion(tmp_path / "evil.npy")
    message = str(error.value)
    assert f"evil.npy holds a pickled {name!r}, which a motion file never needs" in message and "\n" not in message
    with pytest.raises(UnsafePickleError) as refused:
        load_npy(tmp_path / "evil.npy")
    assert refused.value.name == name
    assert not marker.exists()


def test_render_refuses_a_crafted_npy_in_one_line(tmp_path):
    marker = tmp_path / "MARKER"
    np.save(tmp_path / "evil.npy", CRAFTED["os.system"][1](marker), allow_pickle=True)
    result = CliRunner().invoke(main, ["render", str(tmp_path / "evil.npy"), "--out", str(tmp_path / "x.png")])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and SYSTEM in lines[0], result.output
    assert not (tmp_path / "x.png").exists() and not marker.exists()


def test_mdm_results_load_as_numpy_loads_them(tmp_path):
    results = mdm_results(np.random.default_rng(0))
    np.save(tmp_path / "results.npy", results)
    assert_same(load_npy(tmp_path / "results.npy").item(), np.load(tmp_path / "results.npy", allow_pickle=True).item())
    motions = load_motion(tmp_path / "results.npy")
    for motion, length, text, stacked in zip(motions, results["lengths"], results["text"], results["motion"]):
        np.testing.assert_array_equal(motion.positions, stacked[:, :, :length].transpose(2, 0, 1))
        assert motion.segments == [Segment(text, 0, length)] and motion.fps == 20.0


def test_our_results_npy_loads_as_numpy_loads_it(tmp_path):
    rng = np.random.default_rng(1)
    motions = [Motion(rng.normal(size=(30, 22, 3)).astype(np.float32), 20.0, [Segment("walk", 0, 12), Segment("sit", 12, 30)],
                      [12], {"seed": 3, "inv_lambda": np.float32(5.0), "window_texts": ["walk", "sit"], "stitch": True}),
               Motion(rng.normal(size=(20, 22, 3)).astype(np.float32), 30.0, [Segment("wave", 0, 20)])]
    save_results_npy(motions, tmp_path / "results.npy")
    assert_same(load_npy(tmp_path / "results.npy").item(), np.load(tmp_path / "results.npy", allow_pickle=True).item())
    for loaded, original in zip(load_motion(tmp_path / "results.npy"), motions):
        np.testing.assert_array_equal(loaded.positions, original.positions)
        assert (loaded.fps, loaded.segments, loaded.seams) == (original.fps, original.segments, original.seams)
        assert_same(loaded.meta, original.meta)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_values_load_at_every_pickle_protocol(protocol):
    value = {
        "float32": np.arange(6, dtype=np.float32).reshape(2, 3), "fortran": np.asfortranarray(np.ones((2, 3))),
        "big-endian": np.arange(3, dtype=">i4"), "text": np.array(["ab", "ü"]), "bytes": np.array([b"a", b"bc"]),
        "objects": np.array([{"a": [1, 2]}, None, "x"], dtype=object),
        "scalars": [np.float64(1.5), np.int64(-3), np.bool_(True), np.str_("x"), np.float32(2.5)],
        "plain": (1, 2.5, None, True, "s", b"\x00\xff", {3, 4}), "dtype": np.dtype("<f2"),
    }
    assert_same(load_pickle(io.BytesIO(pickle.dumps(value, protocol=protocol))), value)


def test_structured_dtypes_are_refused():
    with pytest.raises(ValueError, match="only plain dtypes are read"):
        load_pickle(io.BytesIO(pickle.dumps(np.zeros(2, dtype=[("a", "<f4"), ("b", "O")]))))


@pytest.mark.parametrize("state", [
    (1, (3,), np.dtype("O"), False, [7]),  # numpy's own __setstate__ reads past the list: a crash or a stray pointer
    (1, (2,), np.dtype("<f8"), False, b"\x00" * 8),
    (1, (-1,), np.dtype("<f8"), False, b""),
    (1, (2,), np.dtype("<f8"), False, [1.0, 2.0]),
])
def test_array_states_that_do_not_match_their_shape_are_refused(state):
    class Crafted:
        def __reduce__(self):
            return np.empty(0).__reduce__()[0], (np.ndarray, (0,), b"b"), state

    with pytest.raises(ValueError, match="damaged pickle"):
        load_pickle(io.BytesIO(pickle.dumps(Crafted())))


def test_ndarray_is_never_called_with_a_buffer():
    """ndarray(shape, object, buffer) reads pointers from the buffer: the pickled call must not reach numpy."""
    class Crafted:
        def __reduce__(self):
            return np.ndarray, ((1,), "O", b"\x41" * 8)

    with pytest.raises(ValueError, match="damaged pickle"):
        load_pickle(io.BytesIO(pickle.dumps(Crafted())))


def test_python2_pickles_of_numpy_1_arrays_load():
    """Python 2 with NumPy 1.x (how SMPL's files were written): numpy.core names and raw data as byte strings."""
    data = struct.pack("<2f", 1.5, -2.0)
    dtype = b"cnumpy\ndtype\nU\x02f4K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    array = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01K\x02\x85" + dtype
    pickled = b"\x80\x02}U\x01a" + array + b"\x89U\x08" + data + b"tbs."
    assert_same(load_pickle(io.BytesIO(pickled), encoding="latin1"), {"a": np.array([1.5, -2.0], dtype=np.float32)})


def test_stand_ins_keep_what_was_pickled_and_other_classes_are_refused():
    pickled = pickle.dumps([fractions.Fraction(1, 3), argparse.Namespace(a=1)], protocol=2)
    fraction, namespace = load_pickle(io.BytesIO(pickled), stand_ins=("fractions", "argparse.Namespace"))
    assert isinstance(fraction, StandIn) and fraction.class_name == "fractions.Fraction"
    assert fraction.args == fractions.Fraction(1, 3).__reduce__()[1]
    assert isinstance(namespace, StandIn) and namespace.class_name == "argparse.Namespace" and namespace.state == {"a": 1}
    with pytest.raises(UnsafePickleError, match="'argparse.Namespace'") as error:
        load_pickle(io.BytesIO(pickled), stand_ins=("fractions",))
    assert error.value.name == "argparse.Namespace"


def test_pickled_code_in_an_smpl_model_is_refused(tmp_path):
    marker = tmp_path / "MARKER"
    with open(tmp_path / "SMPL_NEUTRAL.pkl", "wb") as file:
        pickle.dump({"v_template": np.zeros((4, 3)), "f": touch(marker)}, file, protocol=2)
    with pytest.raises(ValueError, match=f"holds a pickled '{SYSTEM}', which is not read from SMPL files"):
        load_smpl(tmp_path)
    assert not marker.exists()


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.low = nn.Parameter(torch.randn(3, 2).half())
        self.register_buffer("steps", torch.arange(5))
        self.register_buffer("scratch", torch.ones(2), persistent=False)
        self.plain = torch.zeros(3)  # a tensor attribute, neither parameter nor buffer: not in state_dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + self.low.float().sum() + self.steps.sum() + self.scratch.sum() + self.plain.sum()


class Scaled(nn.Module):
    """A module with TorchScript-defined state methods: torch.jit.load runs them, the reader must not."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = 2.0
        self.restored = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    @torch.jit.export
    def __getstate__(self) -> Tuple[float, bool]:
        return self.scale, self.training

    @torch.jit.export
    def __setstate__(self, state: Tuple[float, bool]) -> None:
        self.scale = state[0]
        self.training = state[1]
        self.restored = True


class Tower(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(10, 4)
        self.blocks = nn.Sequential(Block(), nn.ReLU(), Scaled())
        self.conv = nn.Conv2d(1, 2, 3, padding=1)  # pickles int lists through torch.jit._pickle
        self.text_projection = nn.Parameter(torch.randn(4, 5).t())  # not contiguous
        self.tied = self.token_embedding.weight
        self.names: List[str] = ["a", "b"]
        self.sizes: Dict[str, int] = {"a": 1}

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.token_embedding(tokens)) + len(self.names) + self.sizes["a"]
        return x + self.conv(x[None, None]).sum() + self.text_projection.sum() + self.tied.sum()


@pytest.fixture
def torchscript_tower(tmp_path):
    """A scripted Tower saved as a TorchScript archive, and the state dict torch.jit.load gives for it."""
    path = tmp_path / "tower.pt"
    torch.jit.save(torch.jit.script(Tower()), str(path))
    loaded = torch.jit.load(str(path))
    assert getattr(loaded.blocks, "2").restored  # torch.jit.load ran the archive's __setstate__
    return path, loaded.state_dict()


def test_torchscript_tensors_match_jit_load_without_running_the_archive(torchscript_tower, monkeypatch):
    path, expected = torchscript_tower

    def refuse(*args, **kwargs):
        raise AssertionError("torch.jit.load runs code from the archive")

    monkeypatch.setattr(torch.jit, "load", refuse)
    for tensors in (torchscript_tensors(path), read_openai_clip(path)):
        assert list(tensors) == list(expected)
        assert "blocks.0.scratch" in tensors and "blocks.0.plain" not in tensors and "tied" in tensors
        for name, tensor in expected.items():
            assert tensors[name].dtype == tensor.dtype and tensors[name].stride() == tensor.stride(), name
            assert torch.equal(tensors[name], tensor) and not tensors[name].requires_grad, name


def rewrite_archive(path, name, content):
    """The zip at `path` with the entry ending in `name` replaced by `content`."""
    with zipfile.ZipFile(path) as archive:
        entries = {entry: archive.read(entry) for entry in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, content if entry.endswith(name) else data)


def test_pickled_code_in_a_torchscript_archive_is_refused(torchscript_tower, tmp_path):
    path, _ = torchscript_tower
    marker = tmp_path / "MARKER"
    rewrite_archive(path, "/data.pkl", pickle.dumps({"weight": touch(marker)}, protocol=2))
    with pytest.raises(ValueError, match=f"cannot read CLIP weights from .*refusing to unpickle '{SYSTEM}'") as error:
        read_openai_clip(path)
    assert "\n" not in str(error.value) and not marker.exists()


def test_torchscript_tensors_kept_by_custom_state_methods_are_named(tmp_path):
    class Hidden(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.weight

        @torch.jit.export
        def __getstate__(self) -> Tuple[torch.Tensor, bool]:
            return self.weight, self.training

        @torch.jit.export
        def __setstate__(self, state: Tuple[torch.Tensor, bool]) -> None:
            self.weight = state[0]
            self.training = state[1]

    torch.jit.save(torch.jit.script(Hidden()), str(tmp_path / "hidden.pt"))
    with pytest.raises(ValueError, match="keeps its tensors in __getstate__ state"):
        torchscript_tensors(tmp_path / "hidden.pt")


@pytest.mark.parametrize("name", ["model.pt", "model.safetensors"])
def test_damaged_weight_files_fail_in_one_line_without_weights_only_advice(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(os.urandom(300))
    for read in (read_state_dict, read_openai_clip):
        with pytest.raises(ValueError) as error:
            read(path)
        message = str(error.value)
        assert "\n" not in message and "weights_only" not in message and str(path) in message, message


def test_pickled_code_in_a_checkpoint_is_named_without_weights_only_advice(tmp_path):
    marker = tmp_path / "MARKER"
    torch.save({"weight": torch.zeros(2), "hook": touch(marker)}, tmp_path / "model.pt")
    for read in (read_state_dict, read_openai_clip):
        with pytest.raises(ValueError, match=SYSTEM) as error:
            read(tmp_path / "model.pt")
        assert "\n" not in str(error.value) and "weights_only" not in str(error.value)
    assert not marker.exists()


def test_a_safetensors_checkpoint_still_loads(tmp_path):
    save_file({"weight": torch.arange(3.0)}, str(tmp_path / "model.safetensors"))
    assert torch.equal(read_state_dict(tmp_path / "model.safetensors")["weight"], torch.arange(3.0))


# Values of every kind that a pickle or a JSON document can hold.
PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _object_npy_header() -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": ()})
    return header.getvalue()


NPY_OBJECT_HEADER = _object_npy_header()


def only_value_errors(path):
    try:
        load_motion(path)
    except (ValueError, FileNotFoundError):
        pass


@FUZZ
@given(content=st.binary(max_size=600), suffix=st.sampled_from([".npy", ".json"]), after_npy_header=st.booleans())
def test_random_bytes_only_raise_value_errors(tmp_path, content, suffix, after_npy_header):
    path = tmp_path / f"motion{suffix}"
    path.write_bytes(NPY_OBJECT_HEADER + content if after_npy_header else content)
    only_value_errors(path)


@FUZZ
@given(document=PLAIN | st.fixed_dictionaries(
    {"format": st.just("syncmotion.motion"), "version": st.just(1)},
    optional={"positions": PLAIN | st.just([[[0.0] * 3] * 22] * 2), "segments": PLAIN, "seams": PLAIN, "fps": PLAIN,
              "meta": PLAIN}))
def test_random_json_documents_only_raise_value_errors(tmp_path, document):
    path = tmp_path / "motion.json"
    path.write_text(json.dumps(document))
    only_value_errors(path)


@FUZZ
@given(results=st.fixed_dictionaries(
    {"motion": PLAIN | hnp.arrays(st.sampled_from([np.float32, np.float64, np.int8, np.bool_]),
                                  st.sampled_from([(1, 22, 3, 4), (2, 22, 3, 3), (2, 22, 3, 0), (22, 3, 4)]))},
    optional={"lengths": PLAIN | hnp.arrays(np.int64, st.integers(0, 3), elements=st.integers(-5, 8)),
              "text": PLAIN, "syncmotion": PLAIN | st.lists(st.none() | st.dictionaries(
                  st.sampled_from(["fps", "segments", "seams", "meta"]), PLAIN), max_size=2)}))
def test_random_results_dictionaries_only_raise_value_errors(tmp_path, results):
    path = tmp_path / "results.npy"
    np.save(path, results, allow_pickle=True)
    only_value_errors(path)


def test_non_finite_positions_are_refused_at_load(tmp_path):
    results = mdm_results(np.random.default_rng(2))
    results["motion"][1, 3, 0, 10] = np.nan
    np.save(tmp_path / "results.npy", results)
    with pytest.raises(ValueError, match="results.npy: motion 1: the joint positions hold NaN or infinite values"):
        load_motion(tmp_path / "results.npy")
    document = {"format": "syncmotion.motion", "version": 1, "positions": [[[float("inf"), 0, 0]] * 22]}
    (tmp_path / "motion.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_motion(tmp_path / "motion.json")


@pytest.mark.parametrize("change, message", [
    ({"lengths": np.array([-1, 40])}, "motion 0 has length -1"),
    ({"lengths": np.array([40, 51])}, "motion 1 has length 51; lengths must be between 1 and the 50 stored frames"),
    ({"lengths": ["40", "50"]}, "lengths must be a list of whole numbers"),
    ({"text": "a person walks"}, "text must be a list of strings"),
    ({"syncmotion": [None, "fps=20"]}, "the syncmotion entry must be a list of dictionaries"),
    ({"syncmotion": [None, {"fps": -20}]}, "motion 1: the frame rate must be a positive number"),
    ({"syncmotion": [None, {"segments": [["walk", 0]]}]}, "motion 1: "),
    ({"motion": np.zeros((2, 22, 3, 50), dtype=object)}, r"motion must be numbers shaped \[N, 22, 3, T\]"),
])
def test_malformed_results_are_named_in_one_line(tmp_path, change, message):
    np.save(tmp_path / "results.npy", {**mdm_results(np.random.default_rng(3)), **change})
    with pytest.raises(ValueError, match=message) as error:
        load_motion(tmp_path / "results.npy")
    assert str(error.value).startswith(str(tmp_path / "results.npy")) and "\n" not in str(error.value)
