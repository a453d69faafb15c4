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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from livedigits import styleshift
from livedigits.augment import NEG_FRACTION, Mix, augment_batch, camera, classic
from livedigits.classify import import_tensorflow
from livedigits.data import Mnist, sha256
from livedigits.negatives import EVAL_NEG_SEED, eval_negatives, make_negatives
from livedigits.preprocess import to_model_input
from livedigits.spec import INPUT_SHAPE, NOT_A_DIGIT, NUM_CLASSES

tf = import_tensorflow()

import keras  # noqa: E402
from keras import layers  # noqa: E402


@dataclass
class TrainSettings:
    epochs: int = 12  # ~2.5 min an epoch on 2 cores: the style and negative generators cost
    batch_size: int = 128
    learning_rate: float = 2e-3
    lr_decay: float = 0.75  # 2e-3 down to 9e-5 by the 12th epoch
    patience: int = 4
    val_size: int = 5000
    neg_fraction: float = NEG_FRACTION
    mix: Mix = field(default_factory=Mix)
    seed: int = 1
    quick: bool = False
    init: str | None = None  # start from this model's weights instead of from scratch


# Continuing from a trained model needs fewer epochs and a gentler step.
INIT_DEFAULTS = {"epochs": 4, "learning_rate": 3e-4, "lr_decay": 0.7}


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


def _lineage(init: str | None) -> dict | None:
    """What a continued training started from: the file's hash and its own metadata's
    headline figures, so the chain back to a from-scratch run stays on record."""
    if init is None:
        return None
    path = Path(init)
    out = {"path": str(path), "sha256": sha256(path)}
    meta = path.with_suffix(".json")
    if meta.is_file():
        m = json.loads(meta.read_text())
        out.update({k: m.get(k) for k in ("mnist_test_accuracy", "training_seconds",
                                          "epochs_run", "settings", "date", "init")})
    return out


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
        xb, yb = augment_batch(self.x[idx], self.y[idx], rng, self.s.neg_fraction, self.x,
                               self.s.mix)
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

    model = build_model() if settings.init is None else keras.saving.load_model(
        settings.init, compile=False)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    epochs = 1 if settings.quick else settings.epochs
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = out_dir / f".{name}.best.keras"
    callbacks = [
        # Validation loss, not accuracy: on 5,500 samples accuracy often ties between epochs,
        # and a tie never replaces the first checkpoint.
        keras.callbacks.ModelCheckpoint(ckpt, monitor="val_loss", save_best_only=True),
        keras.callbacks.LearningRateScheduler(
            lambda epoch: settings.learning_rate * settings.lr_decay**epoch),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience),
    ]
    train_seq = AugmentedMnist(x_tr, y_tr, settings, workers=2, use_multiprocessing=False)
    t0 = time.perf_counter()
    history = model.fit(train_seq, validation_data=(to_model_input(x_val), y_val),
                        epochs=epochs, callbacks=callbacks, verbose="auto")
    train_seconds = time.perf_counter() - t0
    best = keras.saving.load_model(ckpt, compile=False)
    ckpt.unlink()
    has_bn = any(isinstance(layer, layers.BatchNormalization) for layer in best.layers)
    shipped = fold_batchnorm(best) if has_bn else best  # a folded start stays folded

    probs = predict_probs(shipped, data.x_test)
    test_acc = float((probs.argmax(1) == data.y_test).mean())
    neg = eval_negatives(data.x_test, 500 if settings.quick else 5000)
    neg_pred = predict_probs(shipped, neg).argmax(1)
    far = float((neg_pred != NOT_A_DIGIT).mean())
    shifted = styleshift.style_shift_set(data.x_test, data.y_test,
                                         200 if settings.quick else styleshift.SIZE)
    shift_acc = float((predict_probs(shipped, shifted.x).argmax(1) == shifted.y).mean())

    model_path = out_dir / f"{name}.keras"
    shipped.save(model_path)
    meta = {
        "name": name,
        "classes": [str(d) for d in range(10)] + ["not a digit"],
        "mnist_test_accuracy": round(test_acc, 5),
        "negative_false_accept_rate": round(far, 5),
        "negative_set": {"size": int(len(neg)), "seed": EVAL_NEG_SEED,
                         "built_from": "MNIST test digits + generated marks"},
        "style_shift_accuracy": round(shift_acc, 5),
        "style_shift_set": {"size": int(len(shifted.y)), "seed": styleshift.SEED,
                            "families": list(styleshift.FAMILIES)},
        "parameters": int(shipped.count_params()),
        "size_bytes": model_path.stat().st_size,
        "training_seconds": round(train_seconds, 1),
        "epochs_run": len(history.history["loss"]),
        "best_val_accuracy": round(max(history.history.get("val_accuracy", [0.0])), 5),
        "machine": machine(),
        "init": _lineage(settings.init),
        "data": {"source": data.source, "sha256": data.sha256},
        "settings": asdict(settings),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


@dataclass
class FineTuneSettings:
    steps: int = 150
    batch_size: int = 64
    user_share: float = 0.25  # of each batch: the user's samples, freshly augmented
    neg_fraction: float = NEG_FRACTION  # of the rest, as in training
    learning_rate: float = 2e-4
    seed: int = 0


def _user_variant(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A user's sample as the camera might see it next time: small jitter or a re-render."""
    r = rng.random()
    if r < 0.45:
        return classic(digit, rng)
    if r < 0.8:
        return camera(digit, rng)
    return digit


def fine_tune(base: keras.Model, x_user: np.ndarray, y_user: np.ndarray, data: Mnist,
              settings: FineTuneSettings,
              progress: Callable[[int, int], None] | None = None) -> keras.Model:
    """A copy of `base` trained a little further on a writer's own samples mixed with MNIST
    and non-digit marks, so it learns the hand without forgetting other hands.

    Deterministic for a seed: the batches come from one generator and weights from Keras'.
    """
    keras.utils.set_random_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = keras.models.clone_model(base)
    model.set_weights(base.get_weights())
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    n_user = max(1, int(round(settings.batch_size * settings.user_share)))
    n_rest = settings.batch_size - n_user
    for step in range(settings.steps):
        pick = rng.integers(len(x_user), size=n_user)
        xu = np.stack([_user_variant(x_user[i], rng) for i in pick])
        idx = rng.integers(len(data.x_train), size=n_rest)
        xm, ym = augment_batch(data.x_train[idx], data.y_train[idx], rng,
                               settings.neg_fraction, data.x_train)
        xb = np.concatenate([xu, xm])
        yb = np.concatenate([y_user[pick].astype(np.int64), ym])
        model.train_on_batch(to_model_input(xb), yb)
        if progress is not None:
            progress(step + 1, settings.steps)
    return model
