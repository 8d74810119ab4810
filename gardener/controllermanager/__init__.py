"""gardener-controller-manager: garden-side controllers (projects, gardenlet certificate approval and
seed lifecycle now; maintenance, hibernation schedules and quotas later). Talks to the garden only
through its API, via kopf and the official `kubernetes` client; nothing else of ours may import it.
"""
