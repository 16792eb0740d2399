"""The nightly schedule and the new-file sensor."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import dagster as dg

from assets.partitions import FIRST_LANDING_DATE
from metrics import config
from metrics.ingest.watch import Cursor, new_landing_files

NIGHTLY_CRON = "0 2 * * *"
NIGHTLY_TIMEZONE = "UTC"


def build_nightly_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="nightly_schedule",
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=NIGHTLY_TIMEZONE,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="02:00 UTC every day: everything for yesterday's landing date (UTC), "
        "exactly what `metrics nightly` runs.",
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        yesterday = (context.scheduled_execution_time.date() - timedelta(days=1)).isoformat()
        return dg.RunRequest(run_key=f"nightly-{yesterday}", partition_key=yesterday)

    return nightly_schedule


def build_landing_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_files_sensor",
        job=job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests a run for every landing date that received new (or late) files "
        "since the last tick. The cursor remembers what it has seen.",
    )
    def landing_files_sensor(context: dg.SensorEvaluationContext):
        raw = config.raw_dir(os.environ.get(config.RAW_ENV))
        changes, cursor = new_landing_files(raw, Cursor.loads(context.cursor), FIRST_LANDING_DATE)
        requests = []
        for day, files in sorted(changes.items()):
            digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
            requests.append(dg.RunRequest(run_key=f"landing-{day}-{digest}", partition_key=day))
        context.update_cursor(cursor.dumps())
        if not requests:
            return dg.SkipReason("no new landing files")
        return requests

    return landing_files_sensor
