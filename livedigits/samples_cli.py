"""The `synth` and `score` commands: re-make the sample videos, and score a run against one.

Register them on the main group with `main.add_command(synth)` and `main.add_command(score)`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from livedigits.errors import UserError


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("samples"), show_default=True, help="Folder for NAME.mp4/NAME.json.")
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="Make only this sample (repeatable). Default: all of them.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="mnist.npz; only its test split is drawn. Default: $LIVEDIGITS_MNIST, "
                   "else ../shared/data/mnist.npz beside the checkout.")
def synth(out_dir: Path, only: tuple[str, ...], data: Path | None) -> None:
    """Render the synthetic sample videos and their exact ground truth.

    \b
    Examples:
      livedigits synth --out samples/
      livedigits synth --out /tmp/s --only hard_720p --only blank_720p
    """
    from livedigits import synth as gen
    unknown = [n for n in only if n not in gen.SAMPLES]
    if unknown:
        raise UserError(f"unknown sample {unknown[0]!r}: choose from {', '.join(gen.SAMPLES)}")
    x_test, y_test = gen.load_test_digits(data or gen.default_mnist_path())
    for name in only or tuple(gen.SAMPLES):
        settings = gen.SAMPLES[name]
        command = f"livedigits synth --out {out_dir} --only {name}"
        with click.progressbar(length=settings.frames, label=f"{name:<14}",
                               file=sys.stderr) as bar:

            def progress(frames, bar=bar):
                for i in frames:
                    yield i
                    bar.update(1)

            try:
                info = gen.write_sample(name, settings, x_test, y_test, out_dir, command,
                                        progress)
            except OSError as e:
                raise UserError(str(e)) from e
        click.echo(f"{out_dir / name}.mp4  {info['frames']} frames, "
                   f"{info['bytes'] / 1e6:.2f} MB, {info['digits_per_frame']:.1f} digits/frame")


@click.command()
@click.argument("predictions", type=click.Path(path_type=Path))
@click.argument("truth", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option("--iou", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.3,
              show_default=True, help="Least IoU for a box to match a true digit.")
def score(predictions: Path, truth: Path, as_json: bool, iou: float) -> None:
    """Score PREDICTIONS (the JSON Lines of `run --json`) against TRUTH (samples/NAME.json).

    \b
    Examples:
      livedigits run samples/hard_720p.mp4 --no-display --json hard.jsonl
      livedigits score hard.jsonl samples/hard_720p.json
      livedigits score hard.jsonl samples/hard_720p.json --json
    """
    from livedigits import score as sc

    pred = sc.load_predictions(predictions)
    doc = sc.load_truth(truth)
    result = sc.score(pred, doc, iou)
    if as_json:
        click.echo(json.dumps({"name": doc.get("name", truth.stem), **result.to_json()}))
    else:
        click.echo(sc.format_table(result, str(doc.get("name", truth.stem))))
