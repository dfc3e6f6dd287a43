"""Alerts shaped like Prometheus sends them to Alertmanager, and Alertmanager's webhook payload."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import random
from dataclasses import dataclass
from typing import Any

ALERTNAMES = (
    "HighErrorRate",
    "HighLatency",
    "InstanceDown",
    "DiskWillFillIn4Hours",
    "HighMemoryUsage",
    "CPUThrottlingHigh",
    "KubePodCrashLooping",
    "KubeDeploymentReplicasMismatch",
    "TargetDown",
    "SLOBurnRateHigh",
    "QueueBacklogGrowing",
    "CertificateExpiringSoon",
    "ReplicationLagHigh",
    "TooManyConnections",
    "HTTP5xxSpike",
    "NodeFilesystemAlmostOutOfSpace",
    "ProbeFailed",
    "CronJobFailed",
    "PersistentVolumeFillingUp",
    "ClockSkewDetected",
)
SEVERITIES = ("critical", "error", "warning", "info")
GROUP_BY = ("alertname", "service")
ZERO_TIME = "0001-01-01T00:00:00Z"
PROBE_LABEL = "bench_probe"


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint: FNV-1a 64 over sorted names and values, 0xff separated."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


@dataclass(frozen=True)
class Alert:
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    generator_url: str
    fingerprint: str

    def api(self) -> dict[str, Any]:
        """The shape of one element of Alertmanager's `POST /api/v2/alerts` body."""
        return {
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": self.starts_at,
            "generatorURL": self.generator_url,
        }

    def webhook(self) -> dict[str, Any]:
        """The shape of one alert in Alertmanager's webhook payload."""
        return {
            "status": "firing",
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": self.starts_at,
            "endsAt": ZERO_TIME,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def make_alert(alertname: str, service: str, instance: str, severity: str, **extra: str) -> Alert:
    labels = {
        "alertname": alertname,
        "service": service,
        "instance": instance,
        "severity": severity,
        "job": "node",
        **extra,
    }
    return Alert(
        labels=labels,
        annotations={
            "summary": f"{alertname} on {instance}",
            "description": f"{alertname} has been firing for {service} on {instance} for 5m.",
            "runbook_url": f"https://runbooks.example.com/{alertname.lower()}",
        },
        starts_at=now_rfc3339(),
        generator_url="http://127.0.0.1:9090/graph?g0.expr=up%3D%3D0&g0.tab=1",
        fingerprint=fingerprint(labels),
    )


def alert_stream(
    tag: str, count: int, groups: int, duplicates: float, seed: int = 7
) -> list[Alert]:
    """`count` alerts over `groups` groups (alertname x service), group after group as rule
    evaluations send them, each alertname across many services. A `duplicates` share of them
    repeats an alert sent 100 to 300 positions earlier (never inside the same batch of 100)."""
    rng = random.Random(f"{seed}-{tag}")
    every = round(1 / duplicates) if duplicates > 0 else 0

    def repeats(i: int) -> bool:
        return bool(every) and i >= 100 and i % every == every - 1

    uniques = max(1, count - sum(1 for i in range(count) if repeats(i)))
    names = min(len(ALERTNAMES), groups)
    services = math.ceil(groups / names)
    filled = [0] * groups
    sent: list[Alert] = []
    sent_at: list[int] = []
    stream: list[Alert] = []
    for i in range(count):
        if repeats(i):
            low, high = bisect.bisect_left(sent_at, i - 300), bisect.bisect_right(sent_at, i - 100)
            in_batch = {id(a) for a in stream[i - i % 100 :]}
            choice = sent[rng.randrange(low, high)]
            while id(choice) in in_batch:  # an Alertmanager payload never holds an alert twice
                choice = sent[rng.randrange(low, high)]
            stream.append(choice)
            continue
        g = len(sent) * groups // uniques
        k = filled[g]
        filled[g] += 1
        name = ALERTNAMES[g // services]
        service = f"svc{g % services:03d}-{tag}"
        severity = SEVERITIES[(g // services) % len(SEVERITIES)]
        alert = make_alert(name, service, f"{service}-{k:03d}:9100", severity)
        sent.append(alert)
        sent_at.append(i)
        stream.append(alert)
    return stream


def probe_alert(tag: str, number: int) -> Alert:
    """A probe opens a group of its own, so Alertmanager flushes it at once (group_wait 0s)."""
    return make_alert(
        "BenchLatencyProbe",
        f"probe-{tag}-{number:05d}",
        "probe:9100",
        "critical",
        **{PROBE_LABEL: f"{tag}-{number}"},
    )


def group_key(group_labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    return "{}:{" + inner + "}"


def webhook_payload(alerts: list[Alert]) -> dict[str, Any]:
    """Alertmanager's version 4 webhook payload for `alerts`. groupLabels hold the group_by
    labels the alerts share, as Alertmanager fills them for a route grouping on those."""
    common = dict(alerts[0].labels)
    common_annotations = dict(alerts[0].annotations)
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert.labels.get(k) == v}
        common_annotations = {
            k: v for k, v in common_annotations.items() if alert.annotations.get(k) == v
        }
    group_labels = {k: common[k] for k in GROUP_BY if k in common}
    return {
        "receiver": "warroom",
        "status": "firing",
        "alerts": [a.webhook() for a in alerts],
        "groupLabels": group_labels,
        "commonLabels": common,
        "commonAnnotations": common_annotations,
        "externalURL": "http://127.0.0.1:9093",
        "version": "4",
        "groupKey": group_key(group_labels),
        "truncatedAlerts": 0,
    }


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def body_for(shape: str, alerts: list[Alert]) -> bytes:
    """`shape` "api": Alertmanager's `POST /api/v2/alerts` body; "webhook": its webhook payload."""
    return dumps([a.api() for a in alerts] if shape == "api" else webhook_payload(alerts))
