"""The extension contract library: what every extension controller and the machine controller manager share on
top of `gardener.runtime` (client, informers, queues, controller loop, errors, logging).

The generic reconciler for extension resources (`reconciler`: finalizer, operation annotation,
`status.lastOperation`), the worker helpers (`worker`) and the generic Worker actuator a provider plugs a small
delegate into (`genericworker`). Imports only `gardener.apis` and `gardener.runtime`;
everything under `extensions` may import it.
"""
