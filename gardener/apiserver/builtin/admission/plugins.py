"""kube-apiserver 1.32's default admission chain for built-in kinds, in kube's order.

kube runs its own plugins before the admission webhooks (so webhooks see defaulted pods) and
ResourceQuota last of all (so only what every other step admitted is charged).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gardener.apiserver.builtin.admission.caches import AdmissionCaches
from gardener.apiserver.builtin.admission.defaultstorageclass import DefaultStorageClass
from gardener.apiserver.builtin.admission.defaulttolerationseconds import default_toleration_seconds
from gardener.apiserver.builtin.admission.limitranger import LimitRanger
from gardener.apiserver.builtin.admission.noderestriction import node_restriction
from gardener.apiserver.builtin.admission.podsecurity import PodSecurity
from gardener.apiserver.builtin.admission.priority import PriorityAdmission
from gardener.apiserver.builtin.admission.resourcequota import ResourceQuotaAdmission
from gardener.apiserver.builtin.admission.serviceaccount import ServiceAccountAdmission
from gardener.apiserver.rest import AdmissionHook, ObjectStore


@dataclass(frozen=True)
class Chain:
    #: before the webhooks, in kube's order
    mutating: tuple[AdmissionHook, ...]
    validating: tuple[AdmissionHook, ...]
    #: after everything else
    last: AdmissionHook


def default_chain(
    *,
    store: ObjectStore,
    recount: Callable[[str], Awaitable[None]] | None = None,
    publish_root_ca: Callable[[str], Awaitable[None]] | None = None,
    caches: AdmissionCaches | None = None,
) -> Chain:
    """The plugins; with `caches` (started with the server) they read memory instead of storage."""
    limits = LimitRanger(store=store, ranges=caches.limit_ranges if caches else None)
    priority = PriorityAdmission(store=store, classes=caches.priority_classes if caches else None)
    return Chain(
        mutating=(
            limits.admit,
            ServiceAccountAdmission(
                store=store, publish_root_ca=publish_root_ca, accounts=caches.service_accounts if caches else None
            ),
            priority.admit,
            default_toleration_seconds,
            DefaultStorageClass(store=store, classes=caches.storage_classes if caches else None),
        ),
        validating=(
            limits.validate,
            node_restriction,
            PodSecurity(store=store, labels=caches.namespaces if caches else None),
            priority.validate,
        ),
        last=ResourceQuotaAdmission(store=store, recount=recount, quotas=caches.quotas if caches else None),
    )
