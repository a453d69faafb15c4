"""The `livedigits` command line: run, draw, train, evaluate, score, bench.

Heavy imports (TensorFlow) happen inside the commands that need them, so `--help` is instant.
User mistakes end with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from livedigits.errors import UserError

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "livedigits.keras"


class Group(click.Group):
    """Turns our UserError into one clean line and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            click.echo(f"livedigits: error: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="livedigits")
def main() -> None:
    """Read handwritten digits live from a webcam, a video, an image or a stream.

    \b
    Examples:
      livedigits run 0                      # the default webcam, in a window
      livedigits run samples/plain_720p.mp4 --no-display --json -
      livedigits train --data ../shared/data/mnist.npz
    """


@main.command()
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="mnist.npz with x_train y_train x_test y_test. Default: $LIVEDIGITS_MNIST, "
                   "else ../shared/data/mnist.npz beside the checkout, else Keras' download.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_MODEL.parent, show_default=True, help="Folder for the model.")
@click.option("--name", default="livedigits", show_default=True,
              help="Writes OUT/NAME.keras and OUT/NAME.json.")
@click.option("--epochs", default=30, show_default=True, help="Most epochs (early stopping).")
@click.option("--batch-size", default=128, show_default=True)
@click.option("--seed", default=1, show_default=True, help="Fixes data order and weights.")
@click.option("--quick", is_flag=True, help="Tiny subset, one epoch: a smoke run for tests.")
def train(data: Path | None, out_dir: Path, name: str, epochs: int, batch_size: int, seed: int,
          quick: bool) -> None:
    """Train the digit CNN (10 digits + "not a digit") and save it with its metadata.

    \b
    Example:
      livedigits train --name mymodel --out models/
    """
    from livedigits.data import DataError

    try:
        from livedigits import train as trainer

        mnist = trainer.load_data(data)
    except DataError as e:
        raise UserError(str(e)) from e
    settings = trainer.TrainSettings(epochs=epochs, batch_size=batch_size, seed=seed,
                                     quick=quick)
    click.echo(f"training on {mnist.source} ({len(mnist.x_train)} digits)", err=True)
    meta = trainer.train(mnist, out_dir, name, settings)
    click.echo(
        f"saved {out_dir / (name + '.keras')}: MNIST test accuracy "
        f"{meta['mnist_test_accuracy']:.4%}, negative false-accept rate "
        f"{meta['negative_false_accept_rate']:.2%}, {meta['parameters']} parameters, "
        f"{meta['training_seconds']:.0f} s"
    )
