"""Shipped networks: `<name>.pt` checkpoints with a `<name>.md` model card beside each.

`resolve("connect4")` -> the path of the shipped net of that name; `resolve("runs/x/best.pt")` ->
that file. A model card is Markdown with a fixed set of fields (see `CARD_FIELDS` and
`card_template`), so cards can be checked and listed.
"""
from __future__ import annotations

import os
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent

# Fields every card fills in, as "- **Field:** value" lines (checked by `check_card`).
CARD_FIELDS = ("Game", "Network", "Data", "Compute", "Strength", "Checkpoint")


class ModelNotFoundError(FileNotFoundError):
    """Neither a shipped net of that name nor a file at that path."""


def available() -> list[str]:
    """Names of the shipped nets (the `<name>.pt` files in this folder), sorted."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.pt"))


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A shipped net's name or a checkpoint path -> an existing file path.

    A value that names an existing file wins; otherwise it is looked up as `<name>.pt` here.
    Raises ModelNotFoundError naming the value and listing the shipped names."""
    text = os.fspath(name_or_path)
    if not text.strip():
        raise ModelNotFoundError("model '': empty name; " + _listing())
    p = Path(text).expanduser()
    if p.is_file():
        return p
    stem = text[:-3] if text.endswith(".pt") else text
    if "/" not in stem and os.sep not in stem:
        shipped = MODELS_DIR / f"{stem}.pt"
        if shipped.is_file():
            return shipped
    raise ModelNotFoundError(f"model {text!r}: no such file and no shipped net of that name; "
                             + _listing())


def _listing() -> str:
    names = available()
    return ("shipped nets: " + ", ".join(names)) if names else "no nets are shipped yet"


def card_path(name: str) -> Path:
    """The model card of a shipped net (raises ModelNotFoundError if the net is not shipped)."""
    pt = resolve(name)
    if pt.parent != MODELS_DIR:
        raise ModelNotFoundError(f"model {name!r}: not a shipped net, so it has no card here; "
                                 + _listing())
    return pt.with_suffix(".md")


def read_card(name: str) -> dict[str, str]:
    """The card's fields as {field: value}; raises ValueError naming missing fields."""
    path = card_path(name)
    if not path.is_file():
        raise ValueError(f"model {name!r}: card {path.name} is missing")
    return check_card(path.read_text(encoding="utf-8"), where=path.name)


def check_card(text: str, where: str = "card") -> dict[str, str]:
    """Parse "- **Field:** value" lines; raises ValueError naming every missing field."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("- **") and ":**" in s:
            key, _, value = s[4:].partition(":**")
            fields[key.strip()] = value.strip()
    missing = [f for f in CARD_FIELDS if not fields.get(f)]
    if missing:
        raise ValueError(f"{where}: model card lacks {', '.join(missing)}")
    return fields


def card_template(name: str, *, game: str, network: str, data: str, compute: str, strength: str,
                  checkpoint: str, notes: str = "") -> str:
    """A filled model card (Markdown) in the format `check_card` reads."""
    text = (f"# {name}\n\n- **Game:** {game}\n- **Network:** {network}\n- **Data:** {data}\n"
            f"- **Compute:** {compute}\n- **Strength:** {strength}\n- **Checkpoint:** {checkpoint}\n")
    if notes:
        text += f"\n{notes.strip()}\n"
    return text


def default_model(game_name: str) -> Path | None:
    """The shipped net for a game (named after it, e.g. 'connect4', 'go9', 'chess'), or None."""
    key = game_name.lower()
    shipped = MODELS_DIR / f"{key}.pt"
    return shipped if shipped.is_file() else None
