"""Every quarantine reason, declared once with its class, where it applies and an example.

The class says whose problem a row is, so an operator can tell them apart at a glance:

- `file`: the landing zone holds something that is not an export where spec §2 puts exports.
- `envelope`: the collector wrote a line that is not a valid envelope (a broken collector).
- `body`: the envelope is sound but the platform's body is an error or has a shape the adapters
  do not know (an API error, a platform change, a collector asking for the wrong fields).
- `record`: one record inside a sound body cannot be used; its siblings are kept.
- `value`: a value itself is unusable (not a number, negative, out of range, no zone), in the
  envelope or in a record.

The adapters use the codes through the constants below; docs/data-dictionary.md lists the table
generated from `REASONS` (`python -m metrics.model.dictionary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReasonClass = Literal["file", "envelope", "body", "record", "value"]
Level = Literal["0", "line", "record", "line or record"]


@dataclass(frozen=True)
class Reason:
    code: str
    kind: ReasonClass
    level: Level  # whole file (line 0), whole line (record null), one record, or either
    example: str


REASONS: tuple[Reason, ...] = (
    Reason(
        "unreadable_file",
        "file",
        "0",
        "a truncated gzip (`raw` = the unterminated tail, `detail` names the lines used before "
        "it), a corrupt gzip member (only the members before it are used), a read error, a "
        "folder that cannot be listed",
    ),
    Reason(
        "unsupported_file",
        "file",
        "0",
        "`tiktok/2026-03-08/notes.txt` (not `*.jsonl`/`*.jsonl.gz`), a FIFO",
    ),
    Reason(
        "unexpected_path",
        "file",
        "0",
        "`tiktok/2026-03-08/sub/x.jsonl` (sub-folder), `tiktok/loose.jsonl`, `README` in "
        "`<raw>`, `tiktok/2026-3-9/a.jsonl` or `tiktok/20260309/…` (not `YYYY-MM-DD`), "
        "`myspace/…` (unknown top-level folder), `catalog/2026-03-08/extra.json`",
    ),
    Reason(
        "future_landing_date",
        "file",
        "0",
        "`tiktok/2099-01-01/a.jsonl`: a date folder after tomorrow (UTC)",
    ),
    Reason(
        "before_first_landing_date",
        "file",
        "0",
        "`tiktok/2020-01-01/a.jsonl` when the first partition is later (the oldest catalog "
        "snapshot, or `METRICS_FIRST_LANDING_DATE`): no partition holds that date; the detail "
        "says to set or lower the setting and backfill",
    ),
    Reason(
        "symbolic_link",
        "file",
        "0",
        "any symbolic link, to a file or a folder: never opened, never followed, `raw` empty",
    ),
    Reason("malformed_json", "envelope", "line", "`{not json`, a blank line"),
    Reason(
        "line_too_long",
        "envelope",
        "line",
        "a line over `METRICS_MAX_LINE_BYTES` (default 16 MiB, decompressed); `raw` is its "
        "first 4096 bytes, the rest is never held",
    ),
    Reason(
        "invalid_envelope",
        "envelope",
        "line",
        'no `collected_at`; `"social_account_id": 7`; `response` not an object '
        '(`"response": "upstream request timeout"`); a line that is a JSON list',
    ),
    Reason(
        "unknown_platform",
        "envelope",
        "line",
        '`"platform": "myspace"`',
    ),
    Reason(
        "unknown_endpoint",
        "envelope",
        "line",
        '`"endpoint": "business/nope"` for `tiktok`',
    ),
    Reason(
        "platform_mismatch",
        "envelope",
        "line",
        "an `x` envelope in `tiktok/`, or an account whose catalog platform differs",
    ),
    Reason(
        "unknown_account",
        "envelope",
        "line",
        "a `social_account_id` in no accepted catalog snapshot",
    ),
    Reason(
        "collected_after_landing",
        "envelope",
        "line",
        '`"collected_at": "2026-03-09T00:00:00Z"` in `tiktok/2026-03-08/…`: a file cannot hold '
        "what was collected after its landing date ends (it would become `as_of`)",
    ),
    Reason(
        "api_error",
        "body",
        "line or record",
        'TikTok `"code": 40100`, an Instagram or YouTube `error` body, X `errors` alone (each '
        "entry beside `data` is a record)",
    ),
    Reason(
        "invalid_body",
        "body",
        "line",
        'a body without the shape its endpoint returns: TikTok `"data": {"videos": "n/a"}`, '
        'Instagram `"data": {}`, a YouTube report without a `day` column, or with neither a '
        "`video` column nor `request.filters` `video==<id>`, `channels.list` with no item, "
        "an Instagram insights fetch whose media id is in neither an insight's `id` nor "
        "`request.media_id`",
    ),
    Reason(
        "ambiguous_report",
        "body",
        "line",
        "a YouTube report with `day` alone while `request.filters` names several videos "
        "(`video==a1,b2`): its rows cannot be told apart",
    ),
    Reason(
        "missing_follower_count",
        "body",
        "line",
        'a follower body without its count, because the collector did not ask for it: X `"data": '
        '{"id": "1"}` (no `public_metrics`), Instagram `user` without `followers_count`, '
        "`channels.list` without `statistics.subscriberCount`; never a zero",
    ),
    Reason(
        "invalid_record",
        "record",
        "record",
        "a video without `item_id`, a media that is not an object, a report row with the wrong "
        'number of values or without a `day`, `"timestamp": "yesterday"`',
    ),
    Reason(
        "non_numeric",
        "value",
        "line or record",
        '`"video_views": "n/a"`, `"likes": 1.5`, `"followers_count": "x"`',
    ),
    Reason(
        "negative_counter",
        "value",
        "line or record",
        'a lifetime counter or follower count below zero (`"likes": -4`); per-day values may '
        "be negative",
    ),
    Reason(
        "integer_out_of_range",
        "value",
        "line or record",
        "a metric, follower count or epoch outside signed 64-bit: `9223372036854775808`, "
        '`1e20`, `"123456789012345678901234567890"`, X `retweet_count + quote_count` past '
        "2^63 − 1, TikTok `total_time_watched` 1e17 s (1e20 ms); also a line with a number no "
        "double holds (`1e400`). Never a null",
    ),
    Reason(
        "timestamp_without_zone",
        "value",
        "line or record",
        '`"collected_at": "2026-03-05T06:00:12"`, Instagram `"timestamp": "2026-03-05T13:22:10"`',
    ),
    Reason(
        "timestamp_out_of_range",
        "value",
        "line or record",
        '`"9999-12-31T23:59:59-01:00"` (year 10000 in UTC); TikTok `create_time` '
        "1000000000000000 (outside the years 1–9999)",
    ),
)
BY_CODE: dict[str, Reason] = {r.code: r for r in REASONS}

INVALID_ENVELOPE = BY_CODE["invalid_envelope"].code
API_ERROR = BY_CODE["api_error"].code
INVALID_BODY = BY_CODE["invalid_body"].code
AMBIGUOUS_REPORT = BY_CODE["ambiguous_report"].code
MISSING_FOLLOWER_COUNT = BY_CODE["missing_follower_count"].code
INVALID_RECORD = BY_CODE["invalid_record"].code


def reason_class(code: str) -> ReasonClass:
    """The class of a quarantine reason; a KeyError names a code that is not declared here."""
    try:
        return BY_CODE[code].kind
    except KeyError:
        raise KeyError(f"{code!r} is not a quarantine reason (metrics/model/reasons.py)") from None
