"""Pickles read through an allow-list: only the classes and functions a data file needs are built, nothing else runs."""

from __future__ import annotations

import codecs
import functools
import math
import pickle
import re
import types
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

# torch.load wraps its reason in advice to retry with weights_only=False, which would run the file's code, and in
# pointers to its documentation: sentences with these words are the advice.
_TORCH_ADVICE = ("`False`", "weights_only=False", "trusted source", "file an issue", "documentation", "Weights only load failed")
# What torch.load(weights_only=True) raises for a damaged file: its unpickler builds only tensors and plain
# containers, so these mean a damaged file rather than a bug, and none of them comes from the file's own code.
TORCH_LOAD_ERRORS = (RuntimeError, OSError, EOFError, ValueError, IndexError, KeyError, TypeError, AttributeError,
                     pickle.UnpicklingError)
_NPY_HEADERS = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}


class UnsafePickleError(ValueError):
    """A pickle names a class or function outside the allow-list."""

    def __init__(self, name: str) -> None:
        super().__init__(f"refusing to unpickle {name!r}: only allow-listed classes and functions are built")
        self.name = name


class StandIn:
    """An object of a class that is never imported: its pickled class name, constructor arguments and state."""

    class_name = ""

    def __new__(cls, *args: Any) -> StandIn:
        instance = super().__new__(cls)
        instance.args = args
        instance.state = None
        return instance

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ArrayRecipe(StandIn):
    """An array as numpy pickles it (shape, dtype and data in its state), built once the state is checked."""


class _DtypeRecipe(StandIn):
    """A dtype as numpy pickles it (its name in the arguments, its byte order in the state)."""


def _dtype(recipe: object) -> np.dtype:
    """The plain dtype a recipe describes; structured, subarray and datetime dtypes are refused."""
    if not isinstance(recipe, _DtypeRecipe) or not recipe.args or not isinstance(recipe.args[0], str):
        raise ValueError(f"expected a pickled dtype, got {type(recipe).__name__}")
    dtype = np.dtype(recipe.args[0])
    state = recipe.state
    if dtype.fields is not None or dtype.subdtype is not None or not (
            isinstance(state, tuple) and 5 <= len(state) <= 8 and state[2:5] == (None, None, None)):
        raise ValueError(f"only plain dtypes are read, not {recipe.args[0]!r} with state {state!r}")
    return dtype.newbyteorder(state[1]) if state[1] in ("<", ">") else dtype


def _raw(data: object) -> bytes:
    """An array's or scalar's pickled bytes; Python 2 wrote them as strings, which latin1 turns back into bytes."""
    if isinstance(data, str):
        return data.encode("latin1")
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"expected raw array data, got {type(data).__name__}")
    return bytes(data)


def _scalar(dtype: object, data: object) -> np.generic:
    """A numpy scalar from its pickled dtype and bytes."""
    dtype, raw = _dtype(dtype), _raw(data)
    if dtype.hasobject or len(raw) != dtype.itemsize:
        raise ValueError(f"{len(raw)} bytes do not make one {dtype} scalar")
    return np.frombuffer(raw, dtype)[0]


def _frombuffer(buffer: object, dtype: object, shape: tuple[int, ...], order: str,
                axis_order: tuple[int, ...] | None = None) -> np.ndarray:
    """An array as pickle protocol 5 stores it, rebuilt as numpy's own _frombuffer does."""
    array = np.frombuffer(memoryview(buffer), dtype=_dtype(dtype))
    if order == "K" and axis_order is not None:
        return array.reshape(shape, order="C").transpose(axis_order)
    return array.reshape(shape, order=order)


def _array(recipe: _ArrayRecipe, done: dict[int, tuple[Any, Any]]) -> np.ndarray:
    """The array a recipe describes, its state checked first: numpy's own __setstate__ trusts it and can crash."""
    if not isinstance(recipe.state, tuple) or len(recipe.state) != 5:
        raise ValueError("damaged array state")
    _version, shape, dtype, fortran, data = recipe.state
    dtype, order = _dtype(dtype), "F" if fortran else "C"
    if not isinstance(shape, tuple) or not all(isinstance(size, int) and size >= 0 for size in shape):
        raise ValueError(f"bad array shape {shape!r}")
    count = math.prod(shape)
    if dtype.hasobject:
        if not isinstance(data, list) or len(data) != count:
            raise ValueError(f"an object array of shape {shape} needs {count} items")
        array = np.empty(shape, dtype=dtype, order=order)
        done[id(recipe)] = (recipe, array)  # before the items, which may hold the array itself
        flat = array.reshape(-1, order=order)
        for index, item in enumerate(data):
            flat[index] = _built(item, done)
        return array
    raw = _raw(data)
    if len(raw) != count * dtype.itemsize:
        raise ValueError(f"{len(raw)} bytes do not fill a {dtype} array of shape {shape}")
    return np.frombuffer(raw, dtype).reshape(shape, order=order).copy(order="K")


def _built(value: Any, done: dict[int, tuple[Any, Any]]) -> Any:
    """`value` with every recipe in it, however deep, replaced by what it describes."""
    if id(value) in done:
        return done[id(value)][1]
    # The original stays referenced in `done`, so that its id cannot be reused by a new object during the walk.
    done[id(value)] = (value, value)
    if isinstance(value, _ArrayRecipe):
        result = _array(value, done)
    elif isinstance(value, _DtypeRecipe):
        result = _dtype(value)
    elif isinstance(value, list):
        value[:] = [_built(item, done) for item in value]
        result = value
    elif isinstance(value, dict):
        for key, item in value.items():
            value[key] = _built(item, done)
        result = value
    elif isinstance(value, (tuple, set, frozenset)):
        result = type(value)(_built(item, done) for item in value)
    elif isinstance(value, StandIn):
        value.args, value.state = _built(value.args, done), _built(value.state, done)
        result = value
    else:
        result = value
    done[id(value)] = (value, result)
    return result


# What numpy arrays, dtypes and scalars and Python's sets and bytes need (dicts, lists, tuples, strings, numbers,
# booleans and None are pickle opcodes, not globals). NumPy 1.x names its functions numpy.core.*, 2.x numpy._core.*;
# Python 3 writes sets and bytes under Python 2's names below protocol 3. NumPy's classes and functions themselves
# are never called: ndarray(..., buffer=...) with an object dtype reads pointers from the file's bytes.
PLAIN_DATA: Mapping[str, Any] = {
    **{f"{package}.multiarray._reconstruct": _ArrayRecipe for package in ("numpy.core", "numpy._core")},
    **{f"{package}.multiarray.scalar": _scalar for package in ("numpy.core", "numpy._core")},
    **{f"{package}.numeric._frombuffer": _frombuffer for package in ("numpy.core", "numpy._core")},
    "numpy.ndarray": _ArrayRecipe, "numpy.dtype": _DtypeRecipe,
    "builtins.set": set, "__builtin__.set": set, "_codecs.encode": codecs.encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, allowed: Mapping[str, Any], stand_ins: Collection[str], encoding: str,
                 persistent_load: Callable[[Any], Any] | None) -> None:
        super().__init__(file, encoding=encoding)
        self.allowed = allowed
        self.stand_ins = stand_ins
        self.classes: dict[str, type[StandIn]] = {}
        if persistent_load is not None:
            self.persistent_load = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if qualified in self.allowed:
            found = self.allowed[qualified]
            # A fresh wrapper for each file: BUILD could otherwise set attributes such as __defaults__ on a shared
            # Python function and change how later files load.
            return functools.partial(found) if isinstance(found, types.FunctionType) else found
        if any(qualified == prefix or qualified.startswith(prefix + ".") for prefix in self.stand_ins):
            if qualified not in self.classes:
                self.classes[qualified] = type(name, (StandIn,), {"class_name": qualified, "__module__": module})
            return self.classes[qualified]
        raise UnsafePickleError(qualified)


def load_pickle(file: BinaryIO, allowed: Mapping[str, Any] = PLAIN_DATA, stand_ins: Collection[str] = (),
                encoding: str = "ASCII", persistent_load: Callable[[Any], Any] | None = None) -> Any:
    """The object pickled in `file`, built only from `allowed` globals and StandIns for the classes in or under `stand_ins`."""
    try:
        return _built(_RestrictedUnpickler(file, allowed, stand_ins, encoding, persistent_load).load(), {})
    except UnsafePickleError:
        raise
    # Only allow-listed constructors run, so any other failure means a damaged file, whatever its type.
    except Exception as error:
        detail = str(error).strip().splitlines()
        raise ValueError(f"damaged pickle ({type(error).__name__}{': ' + detail[0] if detail else ''})") from None


def load_npy(path: str | Path) -> np.ndarray:
    """The array in a .npy file; an object array is built only from numpy arrays and plain Python values."""
    with open(path, "rb") as file:
        version = npy_format.read_magic(file)
        header = _NPY_HEADERS.get(version)
        # Version 3 headers exist for UTF-8 field names and never describe the object arrays np.save pickles.
        if header is None or not header(file)[2].hasobject:
            file.seek(0)
            return npy_format.read_array(file, allow_pickle=False)
        # np.save pickles an object array whole, right after the header.
        array = load_pickle(file)
    if not isinstance(array, np.ndarray):
        raise ValueError(f"the pickle after the .npy header holds a {type(array).__name__}, not an array")
    return array


def torch_load_reason(error: BaseException) -> str:
    """The reason in an error from torch.load (or any other), without torch's advice to retry with weights_only=False."""
    # Older torch puts the reason after "WeightsUnpickler error:", on the advice's own line.
    text = str(error).split("WeightsUnpickler error:")[-1]
    sentences = [sentence.strip() for sentence in re.split(r"(?<=\.)\s+|\n", text) if sentence.strip()]
    reasons = [sentence for sentence in sentences if not any(marker in sentence for marker in _TORCH_ADVICE)]
    return reasons[0].rstrip(".") if reasons else type(error).__name__
