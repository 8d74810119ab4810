"""Kubeconfig files for talking to the API server; the format lives in `gardener.apis.kubeconfig`."""

from gardener.apis.kubeconfig import build_kubeconfig, write_kubeconfig

__all__ = ["build_kubeconfig", "write_kubeconfig"]
