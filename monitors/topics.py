"""Topic tagging with evidence, and the relevance gate (the monitor's actors)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TopicDefinition(BaseModel):
    """One topic of the taxonomy: terms that signal it and terms that exclude a match."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    terms: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class ActorDefinition(BaseModel):
    """An actor of the relevance gate (e.g. North Korea) and the names that stand for it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    aliases: list[str] = Field(default_factory=list)


DEFAULT_TOPICS: list[TopicDefinition] = []
DEFAULT_ACTORS: list[ActorDefinition] = []
