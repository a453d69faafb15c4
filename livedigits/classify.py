"""Classify all digit crops of a frame in one batched call.

Two backends with one contract, `predict(crops) -> Prediction`:

- `OnnxClassifier` (the default for reading): the model exported to ONNX (`livedigits export`),
  run by ONNX Runtime. It loads in a fraction of a second at a fraction of TensorFlow's memory,
  and nothing on the read path imports TensorFlow. Any batch size, no padding, no tracing.
- `Classifier` (`--backend tf`, and for training and evaluation): the Keras model in a compiled
  TensorFlow function, on a GPU when TensorFlow sees one. Batches are padded to a few fixed
  sizes, so the function is traced once per size at load and never again; each size's concrete
  function is called directly, and the scaling to [0, 1] happens inside the graph.

Both engines are imported when a classifier is made, never when this module is.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livedigits.errors import UserError
from livedigits.preprocess import MNIST_SIZE, to_model_input
from livedigits.spec import INPUT_SHAPE, NUM_CLASSES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_tensorflow():
    """`import tensorflow`, without the lines its C++ side prints before its logging is set up
    (oneDNN and CUDA notices, which TF_CPP_MIN_LOG_LEVEL cannot silence). What it printed is
    shown after all if the import fails."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf


def shipped_models_dir() -> Path:
    """Where the shipped model lives: `livedigits/models/` in an installed package (setup.cfg
    maps the checkout's top-level `models/` there), `models/` beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "models"
    return installed if (installed / "livedigits.onnx").is_file() else here.parent / "models"


BUCKETS = (8, 16, 24, 32, 64, 128)
BACKENDS = ("onnx", "tf")
DEFAULT_MODEL = shipped_models_dir() / "livedigits.keras"
DEFAULT_EXPORT = DEFAULT_MODEL.with_suffix(".onnx")


@dataclass
class Prediction:
    """Per-crop label (0-9, or 10 for "not a digit"), its probability, and all probabilities."""

    digit: np.ndarray
    confidence: np.ndarray
    probs: np.ndarray

    @classmethod
    def from_probs(cls, probs: np.ndarray) -> Prediction:
        """The most likely class of each row of (N, classes) probabilities, N may be 0."""
        probs = np.asarray(probs, np.float32).reshape(-1, NUM_CLASSES)
        digit = probs.argmax(axis=1).astype(np.int64)
        return cls(digit, probs[np.arange(len(probs)), digit], probs)


def bucket(n: int) -> int:
    """The padded batch size for `n` crops: the smallest bucket that holds them."""
    for b in BUCKETS:
        if n <= b:
            return b
    return BUCKETS[-1]


class Classifier:
    """A loaded digit model and its compiled batched call.

    >>> clf = Classifier()                                   # doctest: +SKIP
    >>> clf.predict(np.zeros((3, 28, 28), np.uint8)).digit   # doctest: +SKIP
    array([10, 10, 10])
    """

    def __init__(self, path: str | Path | None = None, warm_up: bool = True) -> None:
        self.path = Path(path) if path is not None else DEFAULT_MODEL
        t0 = time.perf_counter()
        tf = import_tensorflow()
        self._tf = tf
        self.model = load_model(self.path)
        gpus = tf.config.list_logical_devices("GPU")
        self.device = gpus[0].name if gpus else "CPU"
        # Input is raw 0-255 grey in float32; dividing in the graph gives the same values as
        # preprocess.to_model_input without a numpy pass over the batch.
        self._fn = tf.function(lambda x: self.model(x / 255.0, training=False),
                               reduce_retracing=False)
        self._calls: dict[int, object] = {}
        self.load_ms = (time.perf_counter() - t0) * 1000
        self.warmup_ms = 0.0
        if warm_up:
            t1 = time.perf_counter()
            for b in BUCKETS:
                self._call(b)(tf.zeros((b, MNIST_SIZE, MNIST_SIZE, 1), tf.float32)).numpy()
            self.warmup_ms = (time.perf_counter() - t1) * 1000

    def _call(self, size: int):
        """The concrete function for a padded batch of `size`, traced on first use only."""
        call = self._calls.get(size)
        if call is None:
            spec = self._tf.TensorSpec((size, MNIST_SIZE, MNIST_SIZE, 1), self._tf.float32)
            call = self._calls[size] = self._fn.get_concrete_function(spec)
        return call

    def predict(self, digits: np.ndarray) -> Prediction:
        """Labels and confidences for (N, 28, 28) uint8 crops, in one call per 128 crops."""
        n = len(digits)
        if n == 0:
            return Prediction.from_probs(np.zeros((0, NUM_CLASSES), np.float32))
        digits = np.asarray(digits).reshape(n, MNIST_SIZE, MNIST_SIZE)
        out = []
        for start in range(0, n, BUCKETS[-1]):
            chunk = digits[start : start + BUCKETS[-1]]
            size = bucket(len(chunk))
            padded = np.zeros((size, MNIST_SIZE, MNIST_SIZE, 1), np.float32)
            padded[: len(chunk), :, :, 0] = chunk
            out.append(self._call(size)(self._tf.constant(padded)).numpy()[: len(chunk)])
        return Prediction.from_probs(np.concatenate(out))


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file: ties an export to the .keras file it was made from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_path(model: str | Path | None) -> Path:
    """The ONNX file for `--model`: the path itself, or the export beside a .keras file."""
    if model is None:
        return DEFAULT_EXPORT
    model = Path(model)
    if model.suffix != ".keras":
        return model
    onnx = model.with_suffix(".onnx")
    if model.is_file() and not onnx.is_file():
        raise UserError(f"no ONNX export beside {model}: run `livedigits export {model}` once "
                        "(or read with --backend tf)")
    return onnx


def keras_path(model: str | Path | None) -> Path:
    """The Keras file for `--model` with `--backend tf`: the .keras beside an export."""
    if model is None:
        return DEFAULT_MODEL
    model = Path(model)
    return model.with_suffix(".keras") if model.suffix == ".onnx" else model


class OnnxClassifier:
    """The exported digit model in ONNX Runtime: `Classifier`'s contract without TensorFlow.

    Uses ONNX Runtime's CUDA provider when that is installed and works, else the CPU with
    `threads` intra-op threads that sleep rather than spin between calls (the detector runs
    beside them on a 2-core machine).

    >>> clf = OnnxClassifier()                                   # doctest: +SKIP
    >>> clf.predict(np.zeros((3, 28, 28), np.uint8)).digit       # doctest: +SKIP
    array([10, 10, 10])
    """

    def __init__(self, path: str | Path | None = None, warm_up: bool = True,
                 threads: int | None = None) -> None:
        self.path = export_path(path)
        t0 = time.perf_counter()
        import onnxruntime as ort

        if not self.path.is_file():
            raise UserError(f"model file not found: {self.path} (pass --model PATH to a "
                            ".onnx file made by `livedigits export`, or its .keras)")
        ort.set_default_logger_severity(3)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = [p for p in ("CUDAExecutionProvider",) if p in ort.get_available_providers()]
        try:
            self.session = ort.InferenceSession(str(self.path), opts,
                                                providers=[*providers, "CPUExecutionProvider"])
        except Exception as e:  # ONNX Runtime raises its own types for a file that is no model
            raise UserError(f"{self.path} is not an ONNX model file ({type(e).__name__}); pass "
                            "--model PATH to a .onnx file made by `livedigits export`") from e
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        in_shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else None
        out_shape = tuple(outputs[0].shape[1:]) if len(outputs) == 1 else None
        if in_shape != INPUT_SHAPE or out_shape != (NUM_CLASSES,):
            raise UserError(f"{self.path} is an ONNX model but not a livedigits one (input "
                            f"{in_shape}, output {out_shape}; expected {INPUT_SHAPE} -> "
                            f"({NUM_CLASSES},))")
        self._check_source()
        self._input = inputs[0].name
        used = self.session.get_providers()[0]
        self.device = "CUDA" if used == "CUDAExecutionProvider" else "CPU"
        self.load_ms = (time.perf_counter() - t0) * 1000
        self.warmup_ms = 0.0
        if warm_up:
            t1 = time.perf_counter()
            for n in (1, 32):
                self.predict(np.zeros((n, MNIST_SIZE, MNIST_SIZE), np.uint8))
            self.warmup_ms = (time.perf_counter() - t1) * 1000

    def _check_source(self) -> None:
        """Refuse an export older than the .keras beside it (a retrained model, not exported)."""
        meta = self.session.get_modelmeta().custom_metadata_map
        source = self.path.with_suffix(".keras")
        recorded = meta.get("livedigits.source_sha256")
        if recorded and source.is_file() and file_sha256(source) != recorded:
            raise UserError(f"{self.path} was exported from another version of {source}: run "
                            f"`livedigits export {source}` to export the current one")

    def predict(self, digits: np.ndarray) -> Prediction:
        """Labels and confidences for (N, 28, 28) uint8 crops, in one call."""
        n = len(digits)
        if n == 0:
            return Prediction.from_probs(np.zeros((0, NUM_CLASSES), np.float32))
        return Prediction.from_probs(
            self.session.run(None, {self._input: to_model_input(digits)})[0])


def open_classifier(model: str | Path | None = None, backend: str = "onnx",
                    warm_up: bool = True):
    """The classifier the read path uses: ONNX Runtime by default, TensorFlow with "tf"."""
    if backend == "tf":
        return Classifier(keras_path(model), warm_up=warm_up)
    if backend != "onnx":
        raise UserError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    return OnnxClassifier(model, warm_up=warm_up)


_loaded: dict[tuple[str, int], object] = {}


def load_model(path: Path):
    """Load a Keras model file and check it is a digit model (28x28x1 in, 11 classes out).

    A file already loaded by this process (same path and modification time) is reused.
    """
    import keras

    if not path.is_file():
        raise UserError(f"model file not found: {path} (pass --model PATH to a .keras file)")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key in _loaded:
        return _loaded[key]
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for a file that is not a model
        raise UserError(f"{path} is not a Keras model file ({type(e).__name__}); "
                        "pass --model PATH to a .keras file made by `livedigits train`") from e
    in_shape = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else None
    out_shape = tuple(model.output_shape[1:]) if hasattr(model, "output_shape") else None
    if in_shape != INPUT_SHAPE or out_shape != (NUM_CLASSES,):
        raise UserError(f"{path} is a Keras model but not a livedigits one (input {in_shape}, "
                        f"output {out_shape}; expected {INPUT_SHAPE} -> ({NUM_CLASSES},))")
    _loaded[key] = model
    return model
