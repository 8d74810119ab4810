"""extensions.gardener.cloud/v1alpha1 (the extension contract between gardenlet and provider extensions) and
machine.sapcloud.io/v1alpha1 (the machine controller manager's API): types and CRDs. Imports only
`gardener.apis`; extensions, the gardenlet and the local garden import it.
"""
