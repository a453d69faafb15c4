"""Classify all digit crops of a frame in one call of a compiled model function.

This is the only live-path module that imports TensorFlow. Batches are padded to a few fixed
sizes, so the compiled function is traced once per size at load and never again; the buckets
are close together so that, say, 22 crops pay for 24 rather than 32 (compute grows with the
padded batch). Each size's concrete function is called directly, skipping tf.function's
per-call argument matching, and the scaling to [0, 1] happens inside the graph.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livedigits.errors import UserError
from livedigits.preprocess import MNIST_SIZE
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

BUCKETS = (8, 16, 24, 32, 64, 128)
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "livedigits.keras"


@dataclass
class Prediction:
    """Per-crop label (0-9, or 10 for "not a digit"), its probability, and all probabilities."""

    digit: np.ndarray
    confidence: np.ndarray
    probs: np.ndarray


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
            empty = np.zeros(0, np.int64)
            return Prediction(empty, np.zeros(0, np.float32),
                              np.zeros((0, NUM_CLASSES), np.float32))
        digits = np.asarray(digits).reshape(n, MNIST_SIZE, MNIST_SIZE)
        out = []
        for start in range(0, n, BUCKETS[-1]):
            chunk = digits[start : start + BUCKETS[-1]]
            size = bucket(len(chunk))
            padded = np.zeros((size, MNIST_SIZE, MNIST_SIZE, 1), np.float32)
            padded[: len(chunk), :, :, 0] = chunk
            out.append(self._call(size)(self._tf.constant(padded)).numpy()[: len(chunk)])
        probs = np.concatenate(out)
        digit = probs.argmax(axis=1)
        return Prediction(digit, probs[np.arange(n), digit].astype(np.float32), probs)


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
