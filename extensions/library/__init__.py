"""The extension contract library: what every extension controller and the machine controller manager share.

A small client over the official `kubernetes` package (`kube`), level-triggered controllers built from
list+watch and a work queue (`informer`, `workqueue`, `controller`), the generic reconciler for extension
resources (`reconciler`: finalizer, operation annotation, `status.lastOperation`) and errors that say whether
to retry (`errors`). Imports only `gardener.apis`; everything under `extensions` may import it.
"""
