"""provider-local: makes this machine a cloud for local seeds and shoots.

`controllers` reconcile a seed's extension resources of type `local`; the node agent (`nodeagent`)
runs a local seed's Deployments and StatefulSets as host processes. Like every extension it imports
only `gardener.apis` and `extensions.library`, and talks to clusters only through the Kubernetes API.
"""
