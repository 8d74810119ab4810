"""Defaulting of batch/v1 Jobs and CronJobs, with Kubernetes 1.32's feature gates.

JobPodReplacementPolicy is beta and on in 1.32, so podReplacementPolicy is defaulted. A CronJob's
jobTemplate gets only the pod-template defaults: upstream does not apply the Job defaulter there.
"""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.defaulting import core
from gardener.apiserver.builtin.defaulting._walk import default, default_zero, ensure, struct, structs, unset

_MAX_INT32 = 2**31 - 1


def _condition_patterns(failure_policy: dict[str, Any] | None) -> None:
    """SetDefaults_PodFailurePolicyOnPodConditionsPattern: a pattern without status matches status True."""
    for rule in structs(failure_policy, "rules"):
        for pattern in structs(rule, "onPodConditions"):
            default_zero(pattern, "status", "True")


def job(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    if unset(spec, "completions") and unset(spec, "parallelism"):
        spec["completions"] = 1
        spec["parallelism"] = 1
    default(spec, "parallelism", 1)
    default(spec, "backoffLimit", 6 if unset(spec, "backoffLimitPerIndex") else _MAX_INT32)
    template = struct(spec, "template")
    labels = struct(struct(template, "metadata"), "labels")
    metadata = struct(obj, "metadata")
    if labels is not None and metadata is not None and not metadata.get("labels"):
        metadata["labels"] = dict(labels)
    default(spec, "completionMode", "NonIndexed")
    default(spec, "suspend", False)
    failure_policy = struct(spec, "podFailurePolicy")
    _condition_patterns(failure_policy)
    default(spec, "podReplacementPolicy", "TerminatingOrFailed" if failure_policy is None else "Failed")
    default(spec, "manualSelector", False)
    core.pod_template(template)


def cron_job(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    default_zero(spec, "concurrencyPolicy", "Allow")
    default(spec, "suspend", False)
    default(spec, "successfulJobsHistoryLimit", 3)
    default(spec, "failedJobsHistoryLimit", 1)
    job_spec = struct(struct(spec, "jobTemplate"), "spec")
    _condition_patterns(struct(job_spec, "podFailurePolicy"))
    core.pod_template(struct(job_spec, "template"))
