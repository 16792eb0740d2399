"""The platforms the landing zone carries, in spec §2's order."""

from __future__ import annotations

PLATFORMS: tuple[str, ...] = ("tiktok", "instagram", "youtube", "x")
