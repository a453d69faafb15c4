"""Where personal models made by `livedigits teach` live, and `--model NAME` resolution.

A personal model is NAME.keras with NAME.json beside it in the user's data directory
(`platformdirs`: ~/.local/share/livedigits/models on Linux, honouring $XDG_DATA_HOME).
"""

from __future__ import annotations

import re
from pathlib import Path

from livedigits.errors import UserError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def models_dir() -> Path:
    """The folder of personal models (not created here)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("livedigits", appauthor=False)) / "models"


def check_name(name: str) -> str:
    """A personal model's name: letters, digits, '.', '_' and '-', as a file name would be."""
    if not NAME_RE.match(name) or name.endswith(".keras"):
        raise UserError(f"bad model name {name!r}: use letters, digits, '-', '_' or '.', "
                        "e.g. --name anna")
    return name


def personal_models() -> list[str]:
    """Names of the personal models there are, sorted."""
    d = models_dir()
    return sorted(p.stem for p in d.glob("*.keras")) if d.is_dir() else []


def resolve_model(value: str | Path | None) -> Path | None:
    """What `--model` names: an existing file as given, else a personal model NAME; None (the
    shipped model) stays None. A name that is neither says which personal models exist."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path  # a path: the loader reports a missing or bad file
    found = models_dir() / f"{path.name}.keras"
    if found.is_file():
        return found
    names = personal_models()
    known = f"personal models: {', '.join(names)}" if names else "no personal models yet"
    raise UserError(f"no model file or personal model named {value!r} ({known}; make one with "
                    "`livedigits teach`)")
