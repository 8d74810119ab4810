"""Shoot care: health checks of the control planes on this seed and of the shoot clusters, written as the
Shoots' conditions. Started next to the shoot controller; only `gardenlet` code imports this package.
"""
