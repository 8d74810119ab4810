"""gardener-controller-manager: garden-side controllers (projects, gardenlet certificate approval, seed
lifecycle and the protection finalizers of objects in use now; maintenance, hibernation schedules and quotas
later). Talks to the garden only
through its API, via kopf and the runtime client (`gardener.runtime.kube`); nothing else of ours may import it.
"""
