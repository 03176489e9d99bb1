"""Resolving secret references (environment variables here; Prefect blocks via a callback)."""

from __future__ import annotations

import os
from collections.abc import Callable

from monitors.config_channels import SecretRef
from monitors.errors import ConfigError

BlockLookup = Callable[[str], str]


def resolve_secret(ref: SecretRef, *, field: str, lookup_block: BlockLookup | None = None) -> str:
    """The secret's value; ConfigError naming the field and where it was looked for."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise ConfigError(field, [f"environment variable {ref.env} is not set or empty"])
        return value
    if lookup_block is None:
        raise ConfigError(
            field,
            [f"{ref.describe()} needs Prefect to resolve; run through `newsmon run` or a flow"],
        )
    try:
        return lookup_block(ref.prefect_secret or "")
    except Exception as exc:  # Prefect raises ValueError/ObjectNotFound variants
        raise ConfigError(field, [f"cannot read {ref.describe()}: {exc}"]) from None
