"""The `local` machine driver: a Machine is a small host process (`node`) that registers a Node in the shoot
and keeps it Ready, like a kubelet on a VM would. Used by the MCM only."""
