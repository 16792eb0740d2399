"""The endpoint dispatch table: (platform, endpoint) of an envelope -> the adapter for its body.

An endpoint missing here is quarantined as `unknown_endpoint` by the caller.
"""

from __future__ import annotations

from metrics.ingest.adapters.instagram import (
    instagram_media,
    instagram_media_insights,
    instagram_user,
)
from metrics.ingest.adapters.protocol import Handler
from metrics.ingest.adapters.tiktok import tiktok_account, tiktok_videos
from metrics.ingest.adapters.x import x_tweets, x_user
from metrics.ingest.adapters.youtube import youtube_channel, youtube_report, youtube_videos

HANDLERS: dict[tuple[str, str], Handler] = {
    ("tiktok", "business/video/list"): tiktok_videos,
    ("tiktok", "business/get"): tiktok_account,
    ("instagram", "media"): instagram_media,
    ("instagram", "media_insights"): instagram_media_insights,
    ("instagram", "user"): instagram_user,
    ("youtube", "videos.list"): youtube_videos,
    ("youtube", "reports.query"): youtube_report,
    ("youtube", "channels.list"): youtube_channel,
    ("x", "tweets"): x_tweets,
    ("x", "users"): x_user,
}
