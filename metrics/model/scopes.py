"""The scope tree: organization > project > project layer > social account > platform post."""

from __future__ import annotations

SCOPES: tuple[str, ...] = (
    "platform_post",
    "social_account",
    "project_layer",
    "project",
    "organization",
)
