"""The garden side of the cluster manager: API types, the embedded API server, scheduler,
controller-manager and CLI.

Subpackages keep one direction of imports: `gardener.apis` imports nothing of ours, the API
server imports only `gardener.apis`, controllers and the CLI talk to servers over HTTP.
"""
