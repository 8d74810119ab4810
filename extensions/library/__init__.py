"""The extension contract library: what every extension controller and the machine controller manager share on
top of `gardener.runtime` (client, informers, queues, controller loop, errors, logging).

The generic reconciler for extension resources (`reconciler`: finalizer, operation annotation,
`status.lastOperation`) and the worker helpers (`worker`). Imports only `gardener.apis` and `gardener.runtime`;
everything under `extensions` may import it.
"""
