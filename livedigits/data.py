"""Finding and loading MNIST: a local `mnist.npz`, and only when none exists Keras' download.

Everything that needs MNIST (train, evaluate, synth) loads it here; TensorFlow is imported only
for that last-resort download."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livedigits.errors import UserError
from livedigits.spec import INPUT_SHAPE

KEYS = ("x_train", "y_train", "x_test", "y_test")
ENV_VAR = "LIVEDIGITS_MNIST"


class DataError(UserError):
    """The data file is missing or is not an MNIST npz; the message says what to do."""


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: str | None


def default_mnist_path() -> Path | None:
    """The first `mnist.npz` found: $LIVEDIGITS_MNIST, then `../shared/data/` beside the checkout
    or beside the working directory. None when there is none (callers may then download)."""
    here = Path(__file__).resolve().parents[1]
    candidates: list[str | Path | None] = [os.environ.get(ENV_VAR)]
    candidates += [here.parent / "shared/data/mnist.npz",
                   Path.cwd().parent / "shared/data/mnist.npz"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    return None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_mnist(path: str | Path) -> Mnist:
    """Load and check an MNIST npz (keys x_train y_train x_test y_test, 28x28 uint8 images).

    Raises DataError with a one-line reason when the file is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"MNIST file not found: {path} (pass --data PATH to an mnist.npz)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise DataError(f"{path} is not an MNIST npz: missing {', '.join(missing)}")
            arrays = {k: z[k] for k in KEYS}
    except DataError:
        raise
    except Exception as e:  # zipfile, pickle and value errors all mean "not an npz"
        raise DataError(f"cannot read {path} as an .npz file ({type(e).__name__})") from e
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != INPUT_SHAPE[:2] or len(x) != len(y) or len(x) == 0:
            raise DataError(f"{path}: x_{split} must be (N, 28, 28) with N labels in y_{split}")
    return Mnist(
        x_train=arrays["x_train"].astype(np.uint8),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"].astype(np.uint8),
        y_test=arrays["y_test"].astype(np.int64),
        source=str(path),
        sha256=sha256(path),
    )


def load_data(path: str | Path | None) -> Mnist:
    """MNIST from `path`, else the shared file, else (only then) Keras' own download."""
    if path is not None:
        return load_mnist(path)
    found = default_mnist_path()
    if found is not None:
        return load_mnist(found)
    from livedigits.classify import import_tensorflow

    import_tensorflow()
    import keras

    (xtr, ytr), (xte, yte) = keras.datasets.mnist.load_data()
    return Mnist(xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), "keras.datasets.mnist",
                 None)
