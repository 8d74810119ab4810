"""The machine controller manager (MCM): MachineDeployments roll MachineSets, MachineSets keep Machines, and a
Machine becomes a VM through the driver its MachineClass names (`local`: a host process that registers a Node
in the shoot). Watches the seed; reaches a shoot through the Secret `machine-controller-manager-shoot-access`
in the shoot's seed namespace. Imports `extensions.library` and `gardener.apis` only.
"""
