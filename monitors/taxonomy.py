"""The taxonomy: topics (what an article is about), actors (who is in it), and its sources.

Term syntax (topics, actors and proximity rules alike):

- ``north korea`` matches the whole words ``North Korea``, ``north-korea``, ``NORTH KOREA``;
- a trailing ``*`` makes a prefix: ``sanction*`` matches sanctions, sanctioned, sanctioning;
- terms written in Hangul match anywhere (Korean attaches particles to nouns: 북한의, 북한은);
- in a `NearRule` group, ``@north_korea`` stands for every alias of that actor.

A topic fires on a sentence when one of its `terms` occurs there, or when one of its `near`
rules is satisfied there (one term of every group within `window` words). A match covered by
an `exclude` phrase (``axis of the sanctioned``, ``summit of mount``) does not count. A topic
with `requires_actors` fires only when those actors are found somewhere in the article.

The default taxonomy (North Korea–Russia) is data: `monitors/data/taxonomy.yaml`, read once. A
monitor file chooses with its `taxonomy` key (`resolve_taxonomy`): absent, its `topics`/`actors`
lists (if given) replace the defaults; `default` or a path includes that taxonomy and its own
`topics`/`actors` override entries of the same name or add new ones; `none` uses only its own.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitors.errors import ConfigError
from monitors.wordlists import read_data_file

#: Default proximity of a `NearRule`, in words: about half a news sentence.
DEFAULT_WINDOW = 12
#: `taxonomy:` values that are not paths.
DEFAULT = "default"
NONE = "none"


class NearRule(BaseModel):
    """Fires when one term of every group occurs within `window` words, in one sentence."""

    model_config = ConfigDict(extra="forbid")

    all_of: list[list[str]] = Field(min_length=1)
    window: int = Field(DEFAULT_WINDOW, ge=1, le=200)


class TopicDefinition(BaseModel):
    """One topic of the taxonomy: terms that signal it and terms that exclude a match."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    terms: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    near: list[NearRule] = Field(default_factory=list)
    requires_actors: list[str] = Field(
        default_factory=list, description="actors that must be in the article for the topic"
    )


class ActorDefinition(BaseModel):
    """An actor of the relevance gate (e.g. North Korea) and the names that stand for it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    aliases: list[str] = Field(default_factory=list)
    fuzzy: list[str] = Field(
        default_factory=list,
        description="names also matched approximately (spelling variants, transliterations)",
    )
    near: list[NearRule] = Field(
        default_factory=list, description="context rules, e.g. 'Kim' next to 'Putin'"
    )
    exclude: list[str] = Field(default_factory=list)
    subject: bool = Field(
        default=False,
        description="the monitor's own subject: its names are in every report, so grouping "
        "ignores them (default: the first actor)",
    )


class Taxonomy(BaseModel):
    """A taxonomy file: topics and actors (`shared` holds word lists the file reuses by anchor)."""

    model_config = ConfigDict(extra="forbid")

    topics: list[TopicDefinition] = Field(default_factory=list)
    actors: list[ActorDefinition] = Field(default_factory=list)
    shared: dict[str, list[str]] = Field(
        default_factory=dict, description="YAML-anchored word lists; not used by themselves"
    )


def _raw_taxonomy(text: str, source: str) -> dict[str, Any]:
    """Parse taxonomy YAML into a mapping; ConfigError naming `source` when it is not one."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML ({exc})"]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            source, ["a taxonomy file is a YAML mapping with `topics:` and `actors:`"]
        )
    return data


def _validated(data: dict[str, Any], source: str) -> Taxonomy:
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(source, problems) from None


@cache
def default_taxonomy() -> Taxonomy:
    """The bundled default taxonomy (`monitors/data/taxonomy.yaml`), parsed once."""
    source = "monitors/data/taxonomy.yaml"
    return _validated(_raw_taxonomy(read_data_file("taxonomy.yaml"), source), source)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file; ConfigError naming the file and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            str(path), [f"cannot read the taxonomy file ({exc}); check the `taxonomy:` path"]
        ) from None
    return _validated(_raw_taxonomy(text, str(path)), str(path))


def _merged(base: list[dict[str, Any]], own: Any, key: str, source: str) -> list[Any]:
    """`base` entries with `own` entries replacing those of the same name, new ones appended."""
    if own is None:
        return list(base)
    if not isinstance(own, list):
        raise ConfigError(source, [f"{key}: must be a list of {key} (each with a `name:`)"])
    out = {str(entry["name"]): entry for entry in base}
    for entry in own:
        name = entry.get("name") if isinstance(entry, dict) else None
        if name is None:
            raise ConfigError(source, [f"{key}: every entry needs a `name:` (got {entry!r})"])
        out[str(name)] = entry
    return list(out.values())


def resolve_taxonomy(data: dict[str, Any], *, base_dir: Path, source: str) -> dict[str, Any]:
    """A monitor mapping with its `taxonomy:` choice applied to `topics:` and `actors:`.

    Absent: given lists replace the defaults (the defaults apply otherwise). `default` or a
    path (relative to the monitor file): that taxonomy, with the file's own entries overriding
    those of the same name or added. `none`: only the file's own topics and actors.
    """
    choice = data.get("taxonomy")
    if choice is None:
        return data
    if not isinstance(choice, str) or not choice.strip():
        raise ConfigError(
            source,
            [f"taxonomy: write `default`, `none` or a path to a taxonomy file, got {choice!r}"],
        )
    choice = choice.strip()
    if choice == NONE:
        included = Taxonomy()
    elif choice == DEFAULT:
        included = default_taxonomy()
    else:
        path = Path(choice).expanduser()
        included = load_taxonomy(path if path.is_absolute() else base_dir / path)
    out = dict(data)
    for key, entries in (("topics", included.topics), ("actors", included.actors)):
        base = [e.model_dump() for e in entries]
        out[key] = _merged(base, data.get(key), key, source)
    return out
