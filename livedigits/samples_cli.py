"""The `synth` and `score` commands: re-make the sample videos, and score a run against one.

Register them on the main group with `main.add_command(synth)` and `main.add_command(score)`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from livedigits.classify import BACKENDS  # numpy only; engines load on use
from livedigits.defaults import MIN_CONFIDENCE
from livedigits.errors import UserError

SHIPPED_SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@click.command(short_help="Render the synthetic sample videos and their ground truth.")
@click.option("--output", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for NAME.mp4 and NAME.json (created if needed). "
                                 "Default: samples/.")
@click.option("--out", "out_alias", type=click.Path(file_okay=False, path_type=Path),
              default=None, hidden=True)  # the old name, still accepted
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="Make only this sample (repeatable). Default: all of them. NAME is one of: "
                   "plain_480p, ruled_720p, desk_1080p, hard_720p, crowded_720p, board_720p, "
                   "blank_720p.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="mnist.npz; only its test split is drawn. Default: $LIVEDIGITS_MNIST, "
                   "else ../shared/data/mnist.npz beside the checkout.")
@click.option("--force", is_flag=True,
              help="Overwrite the shipped samples in samples/ (refused without it).")
def synth(out_dir: Path | None, out_alias: Path | None, only: tuple[str, ...],
          data: Path | None, force: bool) -> None:
    """Render the synthetic sample videos and their exact ground truth.

    \b
    Examples:
      livedigits synth --output /tmp/samples
      livedigits synth --output /tmp/s --only hard_720p --only blank_720p
      livedigits synth --force --only plain_480p      # re-make a shipped sample
    """
    from livedigits import synth as gen

    unknown = [n for n in only if n not in gen.SAMPLES]
    if unknown:
        raise UserError(f"unknown sample {unknown[0]!r}: choose from {', '.join(gen.SAMPLES)}")
    out_dir = out_dir or out_alias or Path("samples")
    names = only or tuple(gen.SAMPLES)
    shipped = [n for n in names if (out_dir / f"{n}.mp4").exists()
               and (out_dir / f"{n}.mp4").resolve().parent == SHIPPED_SAMPLES]
    if shipped and not force:
        raise UserError(f"this would overwrite the shipped sample {out_dir / shipped[0]}.mp4; "
                        "give --output DIR for new copies, or --force to re-make them")
    x_test, y_test = gen.load_test_digits(data or gen.default_mnist_path())
    for name in names:
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
        click.echo(f"wrote {out_dir / name}.mp4 and .json: {info['frames']} frames, "
                   f"{info['bytes'] / 1e6:.2f} MB, {info['digits_per_frame']:.1f} digits/frame")


@click.command(short_help="Score a run's JSON Lines against a sample's ground truth.")
@click.argument("predictions", type=click.Path(path_type=Path))
@click.argument("truth", type=click.Path(path_type=Path))
@click.option("--json", "json_path", is_flag=False, flag_value="-", default=None,
              metavar="FILE", help="Write the figures as one JSON object to FILE ('-', or "
                                   "--json last with no FILE: stdout, instead of the table).")
@click.option("--iou", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.3,
              show_default=True, help="Least IoU for a box to match a true digit.")
def score(predictions: Path, truth: Path, json_path: str | None, iou: float) -> None:
    """Score PREDICTIONS (the JSON Lines of `run --json`) against TRUTH (samples/NAME.json).

    Refused when the two cannot be of the same video: frames, a frame size or boxes the
    truth does not have, many boxes where it has no digit, next to no predicted box on a true
    digit, or those boxes reading its digits no better than chance.

    \b
    Examples:
      livedigits run samples/hard_720p.mp4 --no-display --json hard.jsonl
      livedigits score hard.jsonl samples/hard_720p.json
      livedigits score hard.jsonl samples/hard_720p.json --json hard-score.json
    """
    from livedigits import score as sc

    pred = sc.load_predictions(predictions)
    doc = sc.load_truth(truth)
    result = sc.score(pred, doc, iou)
    why = sc.mismatch(pred, doc, result)
    if why:
        raise UserError(f"{predictions} does not match {truth}: {why}; score the JSON Lines of "
                        "`livedigits run VIDEO --json FILE` against VIDEO's own .json")
    name = str(doc.get("name", truth.stem))
    if json_path == "-":
        click.echo(json.dumps({"name": name, **result.to_json()}))
        return
    click.echo(sc.format_table(result, name))
    if json_path is not None:
        write_json(Path(json_path), {"name": name, **result.to_json()})


def write_json(path: Path, doc: dict) -> None:
    """Write one JSON object to `path` and say so on stderr; UserError if it cannot."""
    try:
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from e
    click.echo(f"wrote {path}", err=True)


DEFAULT_LABELS = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "labels.csv"


@click.command("score-photos", short_help="Read labelled photos and score what is read.")
@click.argument("labels", type=click.Path(dir_okay=False, path_type=Path),
                default=DEFAULT_LABELS)
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder the CSV's paths are relative to. Default: the CSV's folder.")
@click.option("--json", "json_path", is_flag=False, flag_value="-", default=None,
              metavar="FILE", help="Write the per-photo figures and totals as one JSON object "
                                   "to FILE ('-', or --json last with no FILE: stdout; the "
                                   "table then goes to stderr).")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Model, as `run` takes it: a .onnx export, or a .keras file with its export "
                   "beside it (--backend tf: the .keras), or a personal model's NAME. "
                   "Default: the shipped models/livedigits.*")
@click.option("--backend", type=click.Choice(BACKENDS), default="onnx", show_default=True,
              help="onnx: ONNX Runtime, as `run` reads. tf: the Keras model in TensorFlow.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=MIN_CONFIDENCE,
              show_default=True,
              help="Drop digits read with less confidence than this (as `run` does).")
def score_photos(labels: Path, root: Path | None, json_path: str | None, model: Path | None,
                 backend: str, min_confidence: float) -> None:
    """Read each labelled photo as `livedigits run IMAGE` does and score it.

    LABELS is a CSV with columns file,digits,kind (digits in reading order, page rows
    separated by '/'); default: ../shared/realworld/labels.csv beside the checkout. Prints,
    per photo, expected vs read, exact or not and digit accuracy (1 - edit distance / digits,
    row breaks aside), then totals per kind.

    \b
    Examples:
      livedigits score-photos
      livedigits score-photos my/labels.csv --json scores.json
      livedigits score-photos --json - | jq .totals
    """
    from livedigits import photos
    from livedigits.classify import open_classifier
    from livedigits.personal import resolve_model
    from livedigits.pipeline import Pipeline, PipelineSettings

    table = photos.load_labels(labels)
    pipeline = Pipeline(open_classifier(resolve_model(model), backend),
                        PipelineSettings(min_confidence=min_confidence, track=False))
    human = sys.stderr if json_path == "-" else sys.stdout
    scores = photos.read_photos(table, root or labels.parent, pipeline,
                                lambda s: click.echo(photos.format_line(s), file=human))
    by_kind = photos.totals(scores)
    click.echo("\n" + photos.format_totals(by_kind), file=human)
    if json_path is not None:
        doc = {"labels": str(labels), "photos": [s.to_json() for s in scores],
               "totals": {k: t.to_json() for k, t in by_kind.items()}}
        if json_path == "-":
            click.echo(json.dumps(doc, indent=1))
        else:
            write_json(Path(json_path), doc)
    unreadable = sum(s.error is not None for s in scores)
    if unreadable:
        raise UserError(f"{unreadable} of {len(scores)} photos could not be read (see above)",
                        exit_code=1)
