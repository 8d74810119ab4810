"""`gardener local up|down|status`: the all-in-one local garden as detached processes under one data dir.

Talks to what it starts only through files it is handed (kubeconfigs) and the Kubernetes API.
"""
