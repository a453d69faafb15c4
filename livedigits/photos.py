"""Scoring readings of labelled photos: exact or not, digit accuracy by edit distance, totals.

A label is every digit in reading order, page rows separated by `/` (e.g. `012/345`). A
reading is the page rows that `livedigits run IMAGE` read, each row the digits of its
numbers. Exactness and digit accuracy compare the digits with the row separators removed (a
row break is layout, not a digit); `rows_exact` also asks for the same rows. Pure functions,
so every figure can be checked on a hand-made case; `load_labels` reads the CSV.

>>> s = score_photo("a.png", "photo", "12/34", ["12", "35"])
>>> (s.exact, s.rows_exact, s.errors, s.digit_accuracy)
(False, False, 1, 0.75)
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from livedigits.errors import UserError

ROW_SEP = "/"
COLUMNS = ("file", "digits", "kind")


@dataclass(frozen=True)
class Label:
    """One labelled photo: its path (relative to the labels' folder), digits and kind."""

    file: str
    digits: str
    kind: str


@dataclass(frozen=True)
class PhotoScore:
    """How one photo was read: what was expected, what was read, and the figures."""

    file: str
    kind: str
    expected: str  # rows separated by ROW_SEP
    read: str  # rows separated by ROW_SEP
    exact: bool  # the same digits in the same order, rows aside
    rows_exact: bool  # and the same rows
    errors: int  # edit distance between the digit strings, at most the expected length
    digits: int  # expected digits
    digit_accuracy: float  # 1 - errors / digits (1.0 for a label with no digits read as none)
    error: str | None = None  # why the file could not be read, if it could not

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Totals:
    """Figures over a group of photos: digit accuracy per digit over the whole group (a long
    photo weighs more), mean accuracy as the mean of the photos' own (each photo weighs one)."""

    files: int
    exact: int
    rows_exact: int
    digits: int
    errors: int
    mean_accuracy: float

    @property
    def digit_accuracy(self) -> float:
        return 1.0 - self.errors / self.digits if self.digits else 1.0

    def to_json(self) -> dict:
        return {**asdict(self), "mean_accuracy": round(self.mean_accuracy, 5),
                "digit_accuracy": round(self.digit_accuracy, 5)}


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions from a to b.

    >>> edit_distance("2019", "209"), edit_distance("", "12"), edit_distance("77", "77")
    (1, 2, 0)
    """
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def score_photo(file: str, kind: str, expected: str, rows: Sequence[str],
                error: str | None = None) -> PhotoScore:
    """Score the rows read from one photo against its label (rows separated by `/`).

    >>> score_photo("b.png", "single", "8", []).digit_accuracy
    0.0
    """
    want = expected.replace(ROW_SEP, "")
    rows = [r for r in rows if r]
    got = "".join(rows)
    errors = min(edit_distance(want, got), len(want)) if want else min(len(got), 1)
    denom = max(len(want), 1)
    return PhotoScore(file, kind, expected, ROW_SEP.join(rows), got == want,
                      ROW_SEP.join(rows) == expected, errors, len(want),
                      1.0 - errors / denom, error)


def totals(scores: Iterable[PhotoScore], key=lambda s: s.kind) -> dict[str, Totals]:
    """Totals per group (by default per kind), and over everything under "all".

    >>> t = totals([score_photo("a", "single", "4", ["4"]), score_photo("b", "photo", "12", ["1"])])
    >>> t["single"].exact, t["photo"].digit_accuracy, t["all"].files
    (1, 0.5, 2)
    """
    groups: dict[str, list[PhotoScore]] = {}
    for s in scores:
        groups.setdefault(key(s), []).append(s)
        groups.setdefault("all", []).append(s)
    return {name: Totals(len(g), sum(s.exact for s in g), sum(s.rows_exact for s in g),
                         sum(max(s.digits, 1) for s in g), sum(s.errors for s in g),
                         sum(s.digit_accuracy for s in g) / len(g))
            for name, g in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0]))}


def load_labels(path: Path) -> list[Label]:
    """The labelled photos of a CSV with columns file, digits, kind (others are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist: give a CSV with columns file,digits,kind")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path} has no column {missing[0]!r}: it needs the columns "
                                f"{','.join(COLUMNS)}")
            labels = []
            for n, row in enumerate(reader, 2):
                digits = (row["digits"] or "").strip()
                if not digits.replace(ROW_SEP, "").isdigit() and digits:
                    raise UserError(f"{path}, line {n}: digits {digits!r} must be 0-9 with "
                                    f"rows separated by {ROW_SEP!r}")
                labels.append(Label(row["file"].strip(), digits, (row["kind"] or "").strip()))
    except (UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"{path} is not a readable CSV: {e}") from e
    if not labels:
        raise UserError(f"{path} lists no photos")
    return labels


def format_line(s: PhotoScore) -> str:
    """One human line per photo: verdict, digit accuracy, file, expected and read."""
    verdict = "ERROR" if s.error else ("exact" if s.exact else "wrong")
    read = f"({s.error})" if s.error else (s.read or "-")
    return (f"{verdict:<5} {s.digit_accuracy:5.3f}  {s.kind:<6}  {s.file}\n"
            f"      expected {s.expected}\n      read     {read}")


def format_totals(table: dict[str, Totals]) -> str:
    """The totals as a small table."""
    lines = [f"{'kind':<8} {'files':>5} {'exact':>7} {'rows':>7} {'digit acc.':>10} "
             f"{'mean acc.':>9}"]
    for name, t in table.items():
        lines.append(f"{name:<8} {t.files:>5} {t.exact:>3}/{t.files:<3} "
                     f"{t.rows_exact:>3}/{t.files:<3} {t.digit_accuracy:>10.3f} "
                     f"{t.mean_accuracy:>9.3f}")
    return "\n".join(lines)


def read_photos(labels: Sequence[Label], root: Path, pipeline,
                each: Callable[[PhotoScore], None] | None = None) -> list[PhotoScore]:
    """Read each labelled photo as `livedigits run IMAGE` does and score it; the I/O edge.

    `pipeline` is a `Pipeline` without tracking. A file that cannot be read scores as read
    empty, with its error. `each` is called with every score as it is made (progress).
    """
    from livedigits.images import read_image
    from livedigits.numbers import read_page

    scores = []
    for label in labels:
        error, rows = None, []
        try:
            result = pipeline.process(read_image(Path(root) / label.file))
            rows = ["".join(n.text for n in row) for row in read_page(result.detections)]
        except UserError as e:
            error = str(e)
        scores.append(score_photo(label.file, label.kind, label.digits, rows, error))
        if each is not None:
            each(scores[-1])
    return scores
