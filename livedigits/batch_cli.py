"""The `batch` command: many videos at once, here or on a Dask cluster (see `batch.py`).

Registered on the main group with `main.add_command(batch)`; imports nothing heavy until run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command(short_help="Read many videos at once, here or on a Dask cluster.")
@click.argument("sources", nargs=-1, required=True)
@click.option("--output", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for the results (created; required). On a cluster: "
                                 "shared storage every worker sees at this same path.")
@click.option("--out", "out_alias", type=click.Path(file_okay=False, path_type=Path),
              default=None, hidden=True)  # the name other commands used to have
@click.option("--video", is_flag=True,
              help="Also write each input's annotated video (NAME.mp4; an image input: "
                   "the annotated image).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Inputs read at once, each in its own process with its own model and "
                   "cores/N inference threads; with --scheduler local, the workers started.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786|local",
              help="Send one task an input to this Dask scheduler, or start a LocalCluster "
                   "('local'). Needs `pip install livedigits[cluster]`.")
@click.option("--force", is_flag=True, help="Read every input again, even those done.")
@click.option("--recursive", "-r", is_flag=True,
              help="Take the videos in a folder's subfolders too.")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Model file. Default: the shipped models/livedigits.keras.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.6, show_default=True,
              help="Drop digits read with less confidence than this.")
@click.option("--invert/--no-invert", default=None,
              help="Light ink on a dark board, or dark on paper. Default: decided per frame.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Stop each input after N frames (a live stream never ends by itself).")
@click.option("--retries", type=click.IntRange(min=0), default=5, show_default=True,
              help="Reconnects of a dropped live stream before giving up.")
def batch(sources: tuple[str, ...], out_dir: Path | None, out_alias: Path | None, video: bool,
          jobs: int,
          scheduler: str | None, force: bool, recursive: bool, model: Path | None,
          min_confidence: float, invert: bool | None, max_frames: int | None,
          retries: int) -> None:
    """Read many videos: each like `livedigits run INPUT --json F --no-display`.

    SOURCES are video files, folders (their videos), globs (quoted: 'lectures/*.mp4'), stream
    URLs, or a .txt file with one path or URL a line. For each input the OUTPUT folder gets
    NAME.jsonl (and NAME.mp4 with --video), NAME being its file name plus a hash of its full
    path; and OUTPUT/summary.csv has one row an input: input, status, frames, fps, digits,
    numbers, seconds, error, output.

    Inputs done by an earlier run into the same folder are skipped (--force reads them again);
    results appear only whole, so a batch stopped by Ctrl-C, a crash or a reboot resumes
    where it was when run again. A failing input is recorded and the others go on; the exit
    code is 1 if any failed.

    \b
    Examples:
      livedigits batch lectures/ -o results/ --jobs 2
      livedigits batch 'clips/**/*.mp4' urls.txt -o results/ --video
      livedigits batch lectures/ -o results/ --scheduler local --jobs 4
      livedigits batch /shared/in/ -o /shared/out/ --scheduler tcp://head:8786
    """
    from livedigits.batch import BatchOptions, ReadSettings, run_batch
    from livedigits.errors import UserError

    out_dir = out_dir or out_alias
    if out_dir is None:
        raise click.UsageError("Missing option '--output' / '-o': the folder for the results.")
    if model is not None and not model.is_file():
        raise UserError(f"model file not found: {model} (pass --model PATH to a .keras file)")
    settings = ReadSettings(model=str(model.resolve()) if model else None,
                            min_confidence=min_confidence, invert=invert,
                            max_frames=max_frames, retries=retries, video=video)
    report = run_batch(BatchOptions(list(sources), out_dir, settings, jobs=jobs,
                                    scheduler=scheduler, force=force, recursive=recursive))
    n = len(report.results)
    parts = [f"{report.count('ok')} read", f"{report.count('done')} done before",
             f"{report.count('failed')} failed"]
    if report.stopped:
        parts.append(f"{report.count('stopped')} not read (stopped; run again to finish)")
    click.echo(f"{n} inputs: {', '.join(parts)} in {report.seconds:.1f} s; "
               f"summary in {out_dir / 'summary.csv'}", err=True)
    if report.exit_code:
        sys.exit(report.exit_code)
