"""TensorFlow Lite models through the C library that pyopen-wakeword embeds.

pyopen-wakeword (Home Assistant's wake-word runtime) ships ``libtensorflowlite_c.so`` inside its
wheel for Linux x86_64 and aarch64, on any Python 3, with no tflite-runtime. keepmum calls that
library directly through ctypes, so its own rings and batching (:mod:`wakeword.features`,
:mod:`wakeword.batch`) run on the TFLite models exactly as they run on the ONNX ones.

:class:`TfliteSession` looks like the part of ``onnxruntime.InferenceSession`` keepmum uses
(``run``, ``get_inputs``, ``get_outputs``): one float32 input, one float32 output. A model's
input can be resized (the mel model takes 1280 or 1760 samples, a batch of embeddings takes B
windows); each input shape gets its own interpreter, made once, because resizing means
re-allocating every tensor.
"""

from __future__ import annotations

import ctypes as C
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from keepmum.errors import DetectorError

__all__ = ["TensorInfo", "TfliteSession", "tflite_library"]

_K_TFLITE_FLOAT32 = 1  # TfLiteType kTfLiteFloat32
_P = C.c_void_p
_I32 = C.c_int32
_SZ = C.c_size_t


@dataclass(frozen=True)
class TensorInfo:
    """Name and shape of a model input or output (as ``onnxruntime.NodeArg``'s)."""

    name: str
    shape: list[int]


def _library_path() -> Path:
    # Found without importing pyopen_wakeword's modules (they load the library on their own).
    import importlib.util

    spec = importlib.util.find_spec("pyopen_wakeword")
    if spec is None or spec.origin is None:
        raise DetectorError(
            "TensorFlow Lite backend: pyopen-wakeword is not installed "
            "(pip install pyopen-wakeword, or reinstall keepmum on Python 3.12+)"
        )
    found = sorted((Path(spec.origin).parent / "lib").glob("*tensorflowlite_c*"))
    if not found:
        raise DetectorError(
            f"TensorFlow Lite backend: no libtensorflowlite_c in {Path(spec.origin).parent}/lib "
            "(pyopen-wakeword has no library for this platform)"
        )
    return found[0]


@lru_cache(maxsize=1)
def tflite_library() -> C.CDLL:
    """The embedded TFLite C library, loaded once per process, with its signatures declared."""
    lib = C.CDLL(str(_library_path()), mode=os.RTLD_GLOBAL)
    sigs: dict[str, tuple[list[Any], Any]] = {
        "TfLiteModelCreateFromFile": ([C.c_char_p], _P),
        "TfLiteModelDelete": ([_P], None),
        "TfLiteInterpreterOptionsCreate": ([], _P),
        "TfLiteInterpreterOptionsSetNumThreads": ([_P, _I32], None),
        "TfLiteInterpreterOptionsDelete": ([_P], None),
        "TfLiteInterpreterCreate": ([_P, _P], _P),
        "TfLiteInterpreterDelete": ([_P], None),
        "TfLiteInterpreterResizeInputTensor": ([_P, _I32, C.POINTER(_I32), _I32], C.c_int),
        "TfLiteInterpreterAllocateTensors": ([_P], C.c_int),
        "TfLiteInterpreterInvoke": ([_P], C.c_int),
        "TfLiteInterpreterGetInputTensorCount": ([_P], _I32),
        "TfLiteInterpreterGetOutputTensorCount": ([_P], _I32),
        "TfLiteInterpreterGetInputTensor": ([_P, _I32], _P),
        "TfLiteInterpreterGetOutputTensor": ([_P, _I32], _P),
        "TfLiteTensorType": ([_P], C.c_int),
        "TfLiteTensorNumDims": ([_P], _I32),
        "TfLiteTensorDim": ([_P, _I32], _I32),
        "TfLiteTensorByteSize": ([_P], _SZ),
        "TfLiteTensorName": ([_P], C.c_char_p),
        "TfLiteTensorCopyFromBuffer": ([_P, _P, _SZ], C.c_int),
        "TfLiteTensorCopyToBuffer": ([_P, _P, _SZ], C.c_int),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res
    return lib


def _shape(lib: C.CDLL, tensor: int) -> list[int]:
    return [int(lib.TfLiteTensorDim(tensor, i)) for i in range(lib.TfLiteTensorNumDims(tensor))]


def _info(lib: C.CDLL, tensor: int) -> TensorInfo:
    return TensorInfo(lib.TfLiteTensorName(tensor).decode(), _shape(lib, tensor))


class _Interpreter:
    """One interpreter of a model at one input shape."""

    def __init__(self, lib: C.CDLL, model: int, shape: tuple[int, ...] | None) -> None:
        self._lib = lib
        options = lib.TfLiteInterpreterOptionsCreate()
        # One thread, as keepmum's ONNX sessions: a process pool of n workers uses n cores.
        lib.TfLiteInterpreterOptionsSetNumThreads(options, 1)
        self._ptr = lib.TfLiteInterpreterCreate(model, options)
        lib.TfLiteInterpreterOptionsDelete(options)
        if not self._ptr:
            raise DetectorError("TensorFlow Lite: could not create an interpreter")
        if shape is not None:
            dims = (_I32 * len(shape))(*shape)
            if lib.TfLiteInterpreterResizeInputTensor(self._ptr, 0, dims, len(shape)) != 0:
                raise DetectorError(f"TensorFlow Lite: model does not take input shape {shape}")
        # Tensors are allocated on first use: a model with a free input length (the mel model)
        # cannot be allocated before it is given a shape, and describing a model needs no memory.
        self.allocated = False
        self.input = lib.TfLiteInterpreterGetInputTensor(self._ptr, 0)
        self.output = lib.TfLiteInterpreterGetOutputTensor(self._ptr, 0)

    def run(self, data: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        lib = self._lib
        if not self.allocated:
            if lib.TfLiteInterpreterAllocateTensors(self._ptr) != 0:
                raise DetectorError(f"TensorFlow Lite: cannot run on input shape {data.shape}")
            self.allocated = True
            # Tensor handles are only stable once allocated (a delegate may rebuild the graph).
            self.input = lib.TfLiteInterpreterGetInputTensor(self._ptr, 0)
            self.output = lib.TfLiteInterpreterGetOutputTensor(self._ptr, 0)
        if lib.TfLiteTensorByteSize(self.input) != data.nbytes:
            raise DetectorError(f"TensorFlow Lite: input of shape {data.shape} does not fit")
        lib.TfLiteTensorCopyFromBuffer(self.input, data.ctypes.data, data.nbytes)
        if lib.TfLiteInterpreterInvoke(self._ptr) != 0:
            raise DetectorError("TensorFlow Lite: the model failed to run")
        out = np.empty(_shape(lib, self.output), dtype=np.float32)
        lib.TfLiteTensorCopyToBuffer(self.output, out.ctypes.data, out.nbytes)
        return out

    def close(self) -> None:
        if self._ptr:
            self._lib.TfLiteInterpreterDelete(self._ptr)
            self._ptr = None


class TfliteSession:
    """A ``.tflite`` model with one float32 input and one float32 output, run on one thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lib = tflite_library()
        self._model = self._lib.TfLiteModelCreateFromFile(str(path).encode())
        if not self._model:
            raise DetectorError(f"wake-word model {str(path)!r}: not a loadable TFLite model")
        first = _Interpreter(self._lib, self._model, None)
        lib = self._lib
        if (
            lib.TfLiteInterpreterGetInputTensorCount(first._ptr) != 1
            or lib.TfLiteTensorType(first.input) != _K_TFLITE_FLOAT32
            or lib.TfLiteTensorType(first.output) != _K_TFLITE_FLOAT32
        ):
            first.close()
            raise DetectorError(
                f"wake-word model {str(path)!r}: expected one float32 input and output"
            )
        self._inputs = [_info(lib, first.input)]
        self._outputs = [_info(lib, first.output)]
        self._by_shape: dict[tuple[int, ...], _Interpreter] = {tuple(self._inputs[0].shape): first}

    def get_inputs(self) -> list[TensorInfo]:
        return self._inputs

    def get_outputs(self) -> list[TensorInfo]:
        return self._outputs

    def run(
        self, output_names: object, feeds: dict[str, npt.NDArray[Any]]
    ) -> list[npt.NDArray[np.float32]]:
        """``onnxruntime``'s calling convention: ``run(None, {input name: array})``."""
        (data,) = feeds.values()
        array = np.ascontiguousarray(data, dtype=np.float32)
        interpreter = self._by_shape.get(array.shape)
        if interpreter is None:
            interpreter = _Interpreter(self._lib, self._model, array.shape)
            self._by_shape[array.shape] = interpreter
        return [interpreter.run(array)]

    def __del__(self) -> None:
        for interpreter in getattr(self, "_by_shape", {}).values():
            interpreter.close()
        model = getattr(self, "_model", None)
        if model:
            self._lib.TfLiteModelDelete(model)
