"""Export a trained Keras model to ONNX for the read path, and check the export against Keras.

TensorFlow trains; ONNX Runtime reads (see classify.py). The export is written beside the model
(`NAME.keras` -> `NAME.onnx`), carries its own metadata (classes, the SHA-256 of the .keras it
came from, versions) and is recorded in `NAME.json` when that exists. Keras exports through
tf2onnx; a converter fault shows here, as a refused export, never later as wrong readings.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np

from livedigits.classify import (
    DEFAULT_MODEL,
    file_sha256,
    import_tensorflow,
    load_model,
)
from livedigits.errors import UserError
from livedigits.preprocess import MNIST_SIZE, to_model_input

CLASSES = [str(d) for d in range(10)] + ["not a digit"]
PARITY_TOLERANCE = 1e-4  # max |probability difference| between the export and Keras
CHECK_CROPS = 256


def check_crops(n: int = CHECK_CROPS, seed: int = 0) -> np.ndarray:
    """Crops to compare the export with Keras on: blank, full, noise and blobs of ink."""
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (n, MNIST_SIZE, MNIST_SIZE), dtype=np.uint8)
    crops[0], crops[1] = 0, 255
    yy, xx = np.mgrid[:MNIST_SIZE, :MNIST_SIZE]
    for i in range(2, n // 2):  # soft discs and bars, closer to real crops than noise
        cy, cx, r = rng.uniform(8, 20), rng.uniform(8, 20), rng.uniform(2, 8)
        crops[i] = np.clip(255 * (r - np.hypot(yy - cy, (xx - cx) * rng.uniform(0.3, 1.5))),
                           0, 255).astype(np.uint8)
    return crops


def export_onnx(model_path: str | Path | None = None, out: str | Path | None = None) -> dict:
    """Write the ONNX export of `model_path` (default: the shipped model) and return its
    metadata; the file is kept only if it agrees with Keras on `check_crops()`."""
    model_path = Path(model_path) if model_path is not None else DEFAULT_MODEL
    out = Path(out) if out is not None else model_path.with_suffix(".onnx")
    t0 = time.perf_counter()
    tf = import_tensorflow()
    import keras

    model = load_model(model_path)
    try:
        import onnx
        import tf2onnx
    except ImportError as e:
        raise UserError(f"exporting needs the onnx and tf2onnx packages ({e.name} is missing): "
                        "pip install onnx tf2onnx") from e
    tmp = out.with_name(out.name + ".part")
    spec = [keras.InputSpec(shape=(None, MNIST_SIZE, MNIST_SIZE, 1), dtype="float32")]
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf2onnx's NumPy-2 deprecation notices
            model.export(str(tmp), format="onnx", input_signature=spec, verbose=False)
        proto = onnx.load(str(tmp))
        info = {
            "format": "onnx",
            "file": out.name,
            "source": model_path.name,
            "source_sha256": file_sha256(model_path),
            "opset": max(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")),
            "keras_version": keras.__version__,
            "tensorflow_version": tf.__version__,
            "tf2onnx_version": tf2onnx.__version__,
            "onnx_version": onnx.__version__,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        props = {"livedigits.classes": json.dumps(CLASSES),
                 **{f"livedigits.{k}": str(v) for k, v in info.items()}}
        onnx.helper.set_model_props(proto, props)
        onnx.save(proto, str(tmp))
        info["max_abs_diff"] = check_export(model, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    info["size_bytes"] = out.stat().st_size
    info["seconds"] = round(time.perf_counter() - t0, 2)
    meta_path = model_path.with_suffix(".json")
    if meta_path.is_file() and out.parent == model_path.parent:
        meta = json.loads(meta_path.read_text())
        meta["export"] = info
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return info


def check_export(model, path: Path) -> float:
    """Max |probability difference| between the export at `path` and the Keras model on
    `check_crops()`; raises UserError when it is over PARITY_TOLERANCE or an argmax differs."""
    from livedigits.classify import OnnxClassifier

    crops = check_crops()
    want = np.asarray(model(to_model_input(crops), training=False))
    got = OnnxClassifier(path, warm_up=False).predict(crops).probs
    diff = float(np.abs(got - want).max())
    if diff > PARITY_TOLERANCE or (got.argmax(1) != want.argmax(1)).any():
        raise UserError(f"the ONNX export disagrees with the Keras model (max |diff| {diff:.2g}"
                        f" > {PARITY_TOLERANCE}); not written")
    return round(diff, 9)
