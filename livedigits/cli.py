"""The `livedigits` command line: run, batch, draw, train, evaluate, teach, score, synth.

Heavy imports happen inside the commands that need them, so `--help` is instant; reading
(`run`, `draw`) uses ONNX Runtime and never imports TensorFlow unless `--backend tf` asks.
User mistakes end with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from livedigits import quiet_opencv
from livedigits.batch_cli import batch
from livedigits.classify import BACKENDS, DEFAULT_MODEL  # numpy only; engines load on use
from livedigits.defaults import MIN_CONFIDENCE, RETRIES
from livedigits.errors import UserError
from livedigits.samples_cli import score, score_photos, synth, write_json


class Group(click.Group):
    """Turns our UserError and click's usage errors into one clean line and a non-zero exit."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.Abort:
            click.echo("livedigits: stopped", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `livedigits run ... --json - | head`: quiet, as Unix tools are
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # nor a complaint when Python flushes at exit
            sys.exit(1)
        except click.ClickException as e:  # a usage mistake: say it in one line
            ctx = getattr(e, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            click.echo(f"livedigits: error: {e.format_message()}{hint}", err=True)
            sys.exit(e.exit_code)

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
      livedigits run samples/plain_480p.mp4 --output read.mp4 --json read.jsonl
      livedigits run scans/ --json -        # a folder of images; JSON on stdout
      livedigits batch videos/ -o results/ --jobs 2   # many videos, resumable
      livedigits draw                       # draw digits with the mouse
      livedigits train                      # MNIST from ../shared/data/mnist.npz
      livedigits export models/livedigits.keras   # the ONNX export that run reads
      livedigits evaluate --plot confusion.png
      livedigits teach sheet.jpg --name anna  # learn your hand from a sheet
      livedigits synth --output /tmp/samples
      livedigits score read.jsonl samples/plain_480p.json
      livedigits score-photos my/labels.csv  # read labelled photos, score them

    `livedigits COMMAND --help` explains every option of a command.
    """
    quiet_opencv()


def _mix(ctx, param, value: str | None):
    """`--mix` as the trainer's `Mix`, or one clear line."""
    if value is None:
        return None
    from livedigits.augment import NEG_FRACTION, Mix

    try:
        return Mix.parse(value, NEG_FRACTION)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@main.command(short_help="Train the digit model on MNIST and save it with its metadata.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="mnist.npz with x_train y_train x_test y_test. Default: $LIVEDIGITS_MNIST, "
                   "else ../shared/data/mnist.npz beside the checkout, else Keras' download.")
@click.option("--output", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for the model. Default: models/ (with --quick: a "
                                 "new temporary folder, so the shipped model stays).")
@click.option("--out", "out_alias", type=click.Path(file_okay=False, path_type=Path),
              default=None, hidden=True)  # the old name, still accepted
@click.option("--name", default="livedigits", show_default=True,
              help="Writes OUTPUT/NAME.keras, its ONNX export OUTPUT/NAME.onnx and "
                   "OUTPUT/NAME.json.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Most epochs (early stopping). Default: 12, or 4 with --init.")
@click.option("--batch-size", default=128, show_default=True,
              help="Digits per training step.")
@click.option("--seed", default=1, show_default=True, help="Fixes data order and weights.")
@click.option("--init", "init", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Continue from this livedigits model's weights instead of "
                                 "starting from scratch (learning rate 3e-4, decaying by 0.7 "
                                 "an epoch). The metadata records the model it started from.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="First epoch's learning rate. Default: 2e-3, or 3e-4 with --init.")
@click.option("--mix", "mix", default=None, metavar="KIND=SHARE,...", callback=_mix,
              help="Shares of a batch by kind of digit (camera, classic, restyle, printed); "
                   "marks take 0.15 and plain MNIST the rest. Default: camera=0.30,"
                   "classic=0.25,restyle=0.23,printed=0.04.")
@click.option("--quick", is_flag=True, help="Tiny subset, one epoch: a smoke run for tests.")
def train(data: Path | None, out_dir: Path | None, out_alias: Path | None, name: str,
          epochs: int | None, batch_size: int, seed: int, init: Path | None,
          learning_rate: float | None, mix, quick: bool) -> None:
    """Train the digit CNN (10 digits + "not a digit"); save it, its ONNX export and metadata.

    \b
    Examples:
      livedigits train                      # writes models/livedigits.*
      livedigits train --name mymodel --output /tmp/models
      livedigits train --quick              # a throwaway model in seconds
      livedigits train --init models/livedigits.keras --output new/
    """
    from livedigits import train as trainer
    from livedigits.data import load_data

    out_dir = out_dir or out_alias
    mnist = load_data(data)
    if init is not None:
        from livedigits.classify import load_model

        load_model(init)  # a file that is not a livedigits model is one clean line
    if out_dir is None:
        out_dir = Path(tempfile.mkdtemp(prefix="livedigits-quick-")) if quick else (
            DEFAULT_MODEL.parent)
    extra: dict = dict(trainer.INIT_DEFAULTS) if init is not None else {}
    if epochs is not None:
        extra["epochs"] = epochs
    if learning_rate is not None:
        extra["learning_rate"] = learning_rate
    if mix is not None:
        extra["mix"] = mix
    settings = trainer.TrainSettings(batch_size=batch_size, seed=seed, quick=quick,
                                     init=None if init is None else str(init), **extra)
    click.echo(f"training on {mnist.source} ({len(mnist.x_train)} digits)", err=True)
    meta = trainer.train(mnist, out_dir, name, settings)
    from livedigits.export import export_onnx

    export = export_onnx(out_dir / f"{name}.keras")  # what `run` reads, checked against Keras
    click.echo(f"exported {out_dir / export['file']} for reading", err=True)
    click.echo(
        f"saved {out_dir / (name + '.keras')}: MNIST test accuracy "
        f"{meta['mnist_test_accuracy']:.4%}, negative false-accept rate "
        f"{meta['negative_false_accept_rate']:.2%}, {meta['parameters']} parameters, "
        f"{meta['training_seconds']:.0f} s"
    )


@main.command(short_help="Accuracy of a model on MNIST's test digits and on non-digits.")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Model file, or the NAME of a personal model made by `livedigits teach`. "
                   "Default: the shipped models/livedigits.keras.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="mnist.npz to evaluate on (its test split). Default as for `train`.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the first N test digits.")
@click.option("--json", "json_path", is_flag=False, flag_value="-", default=None,
              metavar="FILE", help="Write the figures as one JSON object to FILE ('-', or "
                                   "--json last with no FILE: stdout, instead of the table).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG of the confusion matrix and the worst mistakes.")
@click.option("--realworld", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Folder with labels.csv whose single-digit photos are read "
                                 "too. Default: $LIVEDIGITS_REALWORLD, else ../shared/realworld.")
def evaluate(model: Path | None, data: Path | None, limit: int | None, json_path: str | None,
             plot: Path | None, realworld: Path | None) -> None:
    """Accuracy, per-class accuracy, confusion matrix, non-digit false-accept rate (by kind of
    mark), and the style-shift check: MNIST test digits redrawn with pens training never
    uses, plus the real single-digit photos where they are present.

    \b
    Examples:
      livedigits evaluate
      livedigits evaluate --plot confusion.png --json figures.json
      livedigits evaluate --model /tmp/models/mymodel.keras --limit 1000
    """
    import json

    from livedigits import evaluate as ev
    from livedigits import styleshift
    from livedigits.classify import Classifier
    from livedigits.data import load_data
    from livedigits.negatives import eval_negatives
    from livedigits.personal import resolve_model

    clf = Classifier(resolve_model(model), warm_up=False)
    mnist = load_data(data)
    x, y = mnist.x_test[:limit], mnist.y_test[:limit]
    kinds: list[str] = []
    neg = eval_negatives(mnist.x_test, 5000 if limit is None else max(limit // 2, 100), kinds)
    probs = clf.predict(x).probs
    neg_read = clf.predict(neg)
    shifted = styleshift.style_shift_set(x, y, styleshift.SIZE if limit is None
                                         else min(limit, styleshift.SIZE))
    rx, ry, _ = styleshift.realworld_singles(realworld or styleshift.default_realworld())
    report = ev.evaluate(y, probs, neg_read.probs)
    report.false_accept_by_kind = ev.false_accepts_by_kind(neg_read.digit, kinds)
    report.style_shift = ev.style_shift(shifted.y, clf.predict(shifted.x).digit, shifted.family,
                                        ry, clf.predict(rx).digit)
    click.echo(json.dumps(report.to_json()) if json_path == "-" else ev.format_table(report))
    if json_path not in (None, "-"):
        write_json(Path(json_path), report.to_json())
    if plot is not None:
        if not ev.plot(report, x, y, probs, str(plot)):
            raise UserError(f"could not write {plot}: use a .png path in a folder that exists")
        click.echo(f"wrote {plot}", err=True)


def _camera_size(ctx, param, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1280x720") from None
    if w <= 0 or h <= 0:
        raise click.BadParameter("width and height must be positive, e.g. 1280x720")
    return w, h


@main.command(short_help="Read the digits of a camera, stream, video, image or folder.")
@click.argument("source", required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=True, path_type=Path), default=None,
              help="Write the annotated video (.mp4/.avi, same size and fps) or image; "
                   "a folder for a folder of images.")
@click.option("--json", "json_path", default=None, metavar="FILE",
              help="Write JSON Lines, one object per frame, flushed as it goes ('-' = stdout).")
@click.option("--no-display", is_flag=True,
              help="Never open a window (automatic when there is no display).")
@click.option("--benchmark", is_flag=True,
              help="Headless; print FPS and per-stage ms at the end, last line "
                   "'benchmark: {json}'.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Stop after N frames.")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Model: a .onnx export, or a .keras file with its export beside it "
                   "(--backend tf: the .keras), or the NAME of a personal model made by "
                   "`livedigits teach`. Default: the shipped models/livedigits.*")
@click.option("--backend", type=click.Choice(BACKENDS), default="onnx", show_default=True,
              help="onnx: the export in ONNX Runtime (light, fast to start; its CUDA provider "
                   "when installed). tf: the Keras model in TensorFlow (a GPU if it sees one).")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=MIN_CONFIDENCE,
              show_default=True,
              help="Drop digits read with less confidence than this.")
@click.option("--invert/--no-invert", default=None,
              help="Light ink on a dark board (--invert) or dark on paper (--no-invert). "
                   "Default: decided per frame.")
@click.option("--camera-size", callback=_camera_size, default=None, metavar="WxH",
              help="Ask the camera for this resolution, e.g. 1280x720.")
@click.option("--show-crops", is_flag=True,
              help="Show the 28x28 crop the model saw of each digit, in a strip below the "
                   "frame, and the outline of the sheet read when the paper lies on a desk "
                   "(debugging; `c` in the window).")
@click.option("--show-confidence", is_flag=True,
              help="Label each digit with the model's confidence too, e.g. '9 .95'.")
@click.option("--retries", type=click.IntRange(min=0), default=RETRIES,
              show_default=True, help="Reconnects of a dropped live stream before giving up.")
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where the window's snapshots (s) and recordings (r) go.")
@click.option("--exit-at-end", is_flag=True,
              help="Close the window when a video ends (by default its last frame stays up "
                   "until a key is pressed); show a folder's images without waiting for a "
                   "key.")
@click.option("--list-cameras", is_flag=True,
              help="List the cameras that open (index and name) and exit.")
@click.pass_context
def run(ctx: click.Context, source: str | None, output: Path | None, json_path: str | None,
        no_display: bool, benchmark: bool, max_frames: int | None, model: Path | None,
        backend: str, min_confidence: float, invert: bool | None,
        camera_size: tuple[int, int] | None, show_crops: bool, show_confidence: bool,
        retries: int, save_dir: Path, exit_at_end: bool, list_cameras: bool) -> None:
    """Box and read every handwritten digit in SOURCE.

    SOURCE is a camera index (0), a video file, an image, a folder of images, or a stream
    URL (rtsp://... or http://... such as a phone's IP-webcam app). A video plays in the
    window at its own speed (headless, or with --benchmark, as fast as it can be read); an
    image stays up until q or Esc, a video's last frame until a key. The console prints each
    number once it has held for a few frames.

    \b
    Keys in the window (snapshots and recordings go to --save-dir):
      q / Esc  quit              s      snapshot (PNG)     c  crops view
      space    pause / resume    r      record on / off    h  help overlay
      .        one frame on      + / -  min confidence

    \b
    Examples:
      livedigits run 0
      livedigits run samples/plain_480p.mp4 --output read.mp4 --json read.jsonl
      livedigits run page.jpg --output page-read.png
      livedigits run scans/ --json scans.jsonl      # a folder, progress bar
      livedigits run 1 --camera-size 1280x720       # the second camera, at 720p
      livedigits run http://192.168.1.20:8080/video # a phone's IP-webcam app
      livedigits run samples/crowded_720p.mp4 --benchmark
      livedigits run --list-cameras
    """
    if list_cameras:
        from livedigits import cameras

        click.echo(cameras.format_cameras(cameras.list_cameras()))
        return
    if source is None:
        raise click.UsageError("Missing argument 'SOURCE' (a camera index such as 0, a video, "
                               "an image, a folder or a stream URL; --list-cameras lists "
                               "the cameras)")
    from livedigits.personal import resolve_model
    from livedigits.run import RunOptions
    from livedigits.run import run as run_loop

    # A caller may inject the classifier: main(args, obj={"classifier": clf}) (tests, bench).
    classifier = (ctx.obj or {}).get("classifier")
    run_loop(RunOptions(source=source, model=resolve_model(model), backend=backend,
                        output=output,
                        json_path=json_path,
                        display=not no_display, benchmark=benchmark, max_frames=max_frames,
                        min_confidence=min_confidence, invert=invert, camera_size=camera_size,
                        show_crops=show_crops, retries=retries, save_dir=save_dir,
                        exit_at_end=exit_at_end, show_confidence=show_confidence), classifier)


@main.command(short_help="Draw digits with the mouse and see them read as you draw.")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Model: a .onnx export, or a .keras file with its export beside it "
                   "(--backend tf: the .keras), or the NAME of a personal model made by "
                   "`livedigits teach`. Default: the shipped models/livedigits.*")
@click.option("--backend", type=click.Choice(BACKENDS), default="onnx", show_default=True,
              help="onnx: ONNX Runtime. tf: the Keras model in TensorFlow.")
@click.option("--size", "size", callback=_camera_size, default="960x480", show_default=True,
              metavar="WxH", help="Size of the drawing area.")
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where `s` saves the drawing as PNG.")
def draw(model: Path | None, backend: str, size: tuple[int, int], save_dir: Path) -> None:
    """Draw digits with the mouse and see them boxed and read as you draw.

    Left button draws. Keys: c clear, u undo the last stroke, +/- brush size, s save the
    drawing as PNG, q or Esc quit. Needs a display.

    \b
    Examples:
      livedigits draw
      livedigits draw --size 1200x600 --save-dir drawings/
    """
    from livedigits.draw import run_draw
    from livedigits.personal import resolve_model

    run_draw(resolve_model(model), size, save_dir, backend=backend)


@main.command("export", short_help="Export a trained model to ONNX, the format run reads.")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The .onnx file to write. Default: beside MODEL, same name.")
def export_cmd(model: Path | None, out: Path | None) -> None:
    """Export a trained .keras MODEL to ONNX for reading (`train` does this itself).

    The export is checked against the Keras model before it is kept, and recorded in
    MODEL's .json. MODEL defaults to the shipped models/livedigits.keras.

    \b
    Example:
      livedigits export models/livedigits.keras
    """
    from livedigits.export import export_onnx

    model = model if model is not None else DEFAULT_MODEL
    click.echo(f"exporting {model} to ONNX", err=True)
    info = export_onnx(model, out)
    target = out if out is not None else model.with_suffix(".onnx")
    click.echo(f"wrote {target}: {info['size_bytes']} bytes, opset {info['opset']}, max |diff| "
               f"from Keras {info['max_abs_diff']:.1g} on the check crops, {info['seconds']} s")


@main.command(short_help="Teach it your handwriting from a sheet of digits 0-9.")
@click.argument("source", required=False)
@click.option("--name", default=None, help="Name of the personal model to make (then "
              "`run --model NAME`). Required with SOURCE.")
@click.option("--rows", type=click.IntRange(min=2, max=20), default=6, show_default=True,
              help="Rows of 0-9 on the sheet.")
@click.option("--holdout", type=click.IntRange(min=1), default=2, show_default=True,
              help="The last rows, held back to measure the models on your hand.")
@click.option("--drop", default=None, metavar="LIST",
              help="Samples to leave out, by the numbers the review shows: 3,17,20-22.")
@click.option("--yes", "-y", "no_review", is_flag=True,
              help="No review window: take the samples as read (after --drop).")
@click.option("--steps", type=click.IntRange(min=1), default=150, show_default=True,
              help="Fine-tuning steps of 64 samples (about a minute on 2 cores).")
@click.option("--model", "base", type=click.Path(path_type=Path), default=None,
              help="Model to start from (file or personal NAME). Default: the shipped one.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="mnist.npz mixed in so other hands are not forgotten. Default as `train`.")
@click.option("--force", is_flag=True, help="Replace a personal model of the same name.")
@click.option("--timeout", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds to wait for a camera or stream to show a readable sheet.")
@click.option("--seed", default=0, show_default=True, help="Fixes the fine-tuning.")
def teach(source: str | None, name: str | None, rows: int, holdout: int, drop: str | None,
          no_review: bool, steps: int, base: Path | None, data: Path | None, force: bool,
          timeout: float, seed: int) -> None:
    """Teach livedigits your handwriting from a sheet of digits.

    Without SOURCE, prints the sheet to write. With SOURCE (a photo, a video, a camera index or
    a stream URL) it reads the sheet with the labels its layout implies, shows the samples (a
    window to click bad ones away when there is a display; else --drop, and the samples as a
    PNG), fine-tunes on them mixed with MNIST, and saves a personal model in your data folder.
    It reports how well the base and the personal model read the held-back rows.

    \b
    Examples:
      livedigits teach                          # what to write
      livedigits teach sheet.jpg --name anna    # learn from a photo of it
      livedigits teach 0 --name anna --rows 6   # show the sheet to the webcam
      livedigits run 0 --model anna             # then use it
    """
    from livedigits import teach as teacher
    from livedigits.window import has_display

    click.echo(teacher.layout(rows, min(holdout, rows - 1)))
    if source is None:
        return
    if name is None:
        raise click.UsageError("--name is needed to save what was learned, e.g. --name anna")
    click.echo("")
    opts = teacher.TeachOptions(source=source, name=name, rows=rows, holdout=holdout, drop=drop,
                                interactive=not no_review and has_display(), steps=steps,
                                base=None if base is None else str(base),
                                data=None if data is None else str(data), force=force,
                                timeout_s=timeout, seed=seed)
    teacher.teach(opts, lambda line: click.echo(line, err=True))


main.add_command(synth)
main.add_command(score)
main.add_command(score_photos)
main.add_command(batch)
