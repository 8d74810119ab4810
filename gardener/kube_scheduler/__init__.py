"""The project's kube-scheduler: binds Pods to Nodes with kube's filters and scores, through `pods/binding`.

It talks to any Kubernetes API server over HTTP with the runtime's client; only `main` is an entry point. It
imports `gardener.apis` and `gardener.runtime`, nothing else of ours.
"""
