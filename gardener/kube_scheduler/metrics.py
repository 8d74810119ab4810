"""kube-scheduler's Prometheus metrics, under upstream's names, labels and buckets, served on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ALGORITHM_DURATION",
    "ATTEMPTS",
    "ATTEMPT_DURATION",
    "PENDING_PODS",
    "POD_SCHEDULING_ATTEMPTS",
    "PREEMPTION_ATTEMPTS",
    "PREEMPTION_VICTIMS",
    "QUEUE_INCOMING",
    "SLI_DURATION",
    "attempts_label",
    "incoming",
    "set_pending",
]


def _exponential(start: float, factor: float, count: int) -> list[float]:
    return [start * factor**i for i in range(count)]


ATTEMPTS = Counter(
    "scheduler_schedule_attempts",
    "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, "
    "while 'error' means an internal scheduler problem.",
    ["result", "profile"],
)
ATTEMPT_DURATION = Histogram(
    "scheduler_scheduling_attempt_duration_seconds",
    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
    ["result", "profile"],
    buckets=_exponential(0.001, 2, 15),
)
ALGORITHM_DURATION = Histogram(
    "scheduler_scheduling_algorithm_duration_seconds",
    "Scheduling algorithm latency in seconds",
    buckets=_exponential(0.001, 2, 15),
)
SLI_DURATION = Histogram(
    "scheduler_pod_scheduling_sli_duration_seconds",
    "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve "
    "multiple scheduling attempts.",
    ["attempts"],
    buckets=_exponential(0.01, 2, 20),
)
POD_SCHEDULING_ATTEMPTS = Histogram(
    "scheduler_pod_scheduling_attempts",
    "Number of attempts to successfully schedule a pod.",
    buckets=_exponential(1, 2, 5),
)
PENDING_PODS = Gauge(
    "scheduler_pending_pods",
    "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number "
    "of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted "
    "to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to "
    "schedule because they are gated.",
    ["queue"],
)
QUEUE_INCOMING = Counter(
    "scheduler_queue_incoming_pods",
    "Number of pods added to scheduling queues by event and queue type.",
    ["queue", "event"],
)
PREEMPTION_ATTEMPTS = Counter("scheduler_preemption_attempts", "Total preemption attempts in the cluster till now")
PREEMPTION_VICTIMS = Histogram(
    "scheduler_preemption_victims", "Number of selected preemption victims", buckets=_exponential(1, 2, 7)
)


def attempts_label(attempts: int) -> str:
    """kube caps the `attempts` label at "15+" to bound the series."""
    return "15+" if attempts >= 15 else str(attempts)


_PENDING = {queue: PENDING_PODS.labels(queue=queue) for queue in ("active", "backoff", "unschedulable", "gated")}


def incoming(queue: str, event: str) -> None:
    QUEUE_INCOMING.labels(queue=queue, event=event).inc()


def set_pending(counts: dict[str, int]) -> None:
    for queue, count in counts.items():
        _PENDING[queue].set(count)
