"""Train the digit CNN on MNIST plus generated non-digit marks, and ship it with its metadata.

The model has 11 outputs: digits 0-9 and "not a digit". Training uses batch normalisation;
the shipped model has it folded into the convolutions, so inference is a few plain convs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from livedigits.augment import augment_batch
from livedigits.classify import import_tensorflow
from livedigits.data import Mnist
from livedigits.negatives import EVAL_NEG_SEED, eval_negatives, make_negatives
from livedigits.preprocess import to_model_input
from livedigits.spec import INPUT_SHAPE, NOT_A_DIGIT, NUM_CLASSES

tf = import_tensorflow()

import keras  # noqa: E402
from keras import layers  # noqa: E402


@dataclass
class TrainSettings:
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 2e-3
    lr_decay: float = 0.88
    patience: int = 6
    val_size: int = 5000
    neg_fraction: float = 0.1
    seed: int = 1
    quick: bool = False


def machine() -> str:
    """A short description of the CPU and core count, for the metadata."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def build_model() -> keras.Model:
    """A compact CNN: 5x5 conv, two 3x3 stages, then a linear read-out; ~104k parameters."""
    inp = keras.Input(INPUT_SHAPE, name="digit")
    x = inp
    for filters, kernel, pool in ((16, 5, True), (32, 3, False), (32, 3, True),
                                  (64, 3, False), (64, 3, False)):
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if pool:
            x = layers.MaxPooling2D()(x)
            x = layers.Dropout(0.1)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="livedigits_cnn")


def fold_batchnorm(model: keras.Model) -> keras.Model:
    """The same function with every BatchNormalization folded into the conv before it.

    Inference then runs one conv + bias + ReLU per stage instead of four ops.
    """
    inp = keras.Input(INPUT_SHAPE, name="digit")
    x = inp
    pending = None
    new_layers = []
    for layer in model.layers[1:]:
        if isinstance(layer, layers.Conv2D):
            pending = layer
            continue
        if isinstance(layer, layers.BatchNormalization):
            assert pending is not None, "a BatchNormalization without its conv"
            k = pending.get_weights()[0]
            gamma, beta, mean, var = layer.get_weights()
            s = gamma / np.sqrt(var + layer.epsilon)
            conv = layers.Conv2D(pending.filters, pending.kernel_size, padding="same")
            x = conv(x)
            conv.set_weights([k * s, beta - mean * s])
            new_layers.append(conv)
            pending = None
            continue
        if isinstance(layer, layers.Dropout):
            continue
        clone = layer.__class__.from_config(layer.get_config())
        x = clone(x)
        if layer.get_weights():
            clone.set_weights(layer.get_weights())
    return keras.Model(inp, x, name=model.name)


class AugmentedMnist(keras.utils.PyDataset):
    """Batches of freshly augmented digits and negatives; deterministic per (seed, epoch, batch)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, settings: TrainSettings, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.s = x, y, settings
        self.epoch = 0
        self.order = np.arange(len(x))
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.x) / self.s.batch_size))

    def __getitem__(self, i: int):
        idx = self.order[i * self.s.batch_size : (i + 1) * self.s.batch_size]
        rng = np.random.default_rng([self.s.seed, self.epoch, i])
        xb, yb = augment_batch(self.x[idx], self.y[idx], rng, self.s.neg_fraction, self.x)
        return to_model_input(xb), yb

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = np.random.default_rng([self.s.seed, self.epoch]).permutation(len(self.x))


def predict_probs(model: keras.Model, digits: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Class probabilities for many 28x28 uint8 digits (offline evaluation, not the live path)."""
    fn = tf.function(lambda t: model(t, training=False))
    out = [fn(tf.constant(to_model_input(digits[i : i + batch]))).numpy()
           for i in range(0, len(digits), batch)]
    return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), np.float32)


def train(data: Mnist, out_dir: Path, name: str, settings: TrainSettings) -> dict:
    """Train, fold, evaluate and save `out_dir/name.keras` with `out_dir/name.json`."""
    keras.utils.set_random_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(data.x_train))
    val_idx, tr_idx = order[: settings.val_size], order[settings.val_size :]
    if settings.quick:
        tr_idx, val_idx = tr_idx[:2000], val_idx[:500]
    x_tr, y_tr = data.x_train[tr_idx], data.y_train[tr_idx]
    x_val, y_val = data.x_train[val_idx], data.y_train[val_idx]
    neg_val = make_negatives(max(len(x_val) // 10, 1), x_val, seed=settings.seed + 7)
    x_val = np.concatenate([x_val, neg_val])
    y_val = np.concatenate([y_val, np.full(len(neg_val), NOT_A_DIGIT)])

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    epochs = 1 if settings.quick else settings.epochs
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = out_dir / f".{name}.best.keras"
    callbacks = [
        keras.callbacks.ModelCheckpoint(ckpt, monitor="val_accuracy", save_best_only=True),
        keras.callbacks.LearningRateScheduler(
            lambda epoch: settings.learning_rate * settings.lr_decay**epoch),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=settings.patience),
    ]
    train_seq = AugmentedMnist(x_tr, y_tr, settings, workers=2, use_multiprocessing=False)
    t0 = time.perf_counter()
    history = model.fit(train_seq, validation_data=(to_model_input(x_val), y_val),
                        epochs=epochs, callbacks=callbacks, verbose="auto")
    train_seconds = time.perf_counter() - t0
    best = keras.saving.load_model(ckpt, compile=False)
    ckpt.unlink()
    shipped = fold_batchnorm(best)

    probs = predict_probs(shipped, data.x_test)
    test_acc = float((probs.argmax(1) == data.y_test).mean())
    neg = eval_negatives(data.x_test, 500 if settings.quick else 5000)
    neg_pred = predict_probs(shipped, neg).argmax(1)
    far = float((neg_pred != NOT_A_DIGIT).mean())

    model_path = out_dir / f"{name}.keras"
    shipped.save(model_path)
    meta = {
        "name": name,
        "classes": [str(d) for d in range(10)] + ["not a digit"],
        "mnist_test_accuracy": round(test_acc, 5),
        "negative_false_accept_rate": round(far, 5),
        "negative_set": {"size": int(len(neg)), "seed": EVAL_NEG_SEED,
                         "built_from": "MNIST test digits + generated marks"},
        "parameters": int(shipped.count_params()),
        "size_bytes": model_path.stat().st_size,
        "training_seconds": round(train_seconds, 1),
        "epochs_run": len(history.history["loss"]),
        "best_val_accuracy": round(max(history.history.get("val_accuracy", [0.0])), 5),
        "machine": machine(),
        "data": {"source": data.source, "sha256": data.sha256},
        "settings": asdict(settings),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
