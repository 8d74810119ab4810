"""gardener-admission-controller: the garden's admission (gardener.apis.core.admission) served as an
AdmissionReview webhook, for gardens whose API server is a real kube-apiserver.

Reads other garden objects through the Kubernetes API only; nothing else of ours imports it.
"""
