"""The project's kube-controller-manager: kube's workload, node and service controllers in one process.

It talks to any Kubernetes API server over HTTP with the runtime's client and shares one informer per resource
among its controllers, as upstream's shared informer factory does. Each controller is one module with a
`setup(ctx)` registered in `registry`; `--controllers` switches them on and off with upstream's names.
Only `main` is an entry point; it imports `gardener.apis` and `gardener.runtime`, nothing else of ours.
"""
