"""The provider-local node agent: a kubelet, kube-proxy and workload controllers in one process.

It watches a seed through the Kubernetes API and makes its Deployments and StatefulSets real:
Pods become host processes on per-pod loopback addresses, Services become small TCP proxies on
virtual loopback addresses, and status flows back into the API. Everything it keeps lives in its
data dir:

    agent.lock, metrics.port     one agent per data dir; the port of /metrics and /healthz
    state/*.json                 address allocations (pods, cluster IPs, load balancers)
    pods/<ns>_<pod>_<uid>/       pod.json, volumes/<volume>/, containers/<name>/{pid,log}
    pvc/<ns>/<claim>/            claim data, kept across pod restarts and scale to zero

Only `main` is an entry point; nothing outside `extensions.provider_local` imports this package.
"""
