"""The one runtime every component of ours runs on: Kubernetes client, informer, work queue, controller loop,
errors, logging, processes, durations and PKI.

It imports only `gardener.apis` of ours; the API server, the garden controllers, the scheduler, the gardenlet and
every extension may import it, so a fix to a watch or a backoff lands once for all of them.
"""
