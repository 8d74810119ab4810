"""provider-local's extension controllers for resources of type `local`: Infrastructure (Terraform with
`terraform/local`), ControlPlane, Worker (MachineClasses and MachineDeployments for the MCM), and Network,
OperatingSystemConfig, DNSRecord, Extension, BackupBucket, which need nothing on this machine. Built on
`extensions.library`; `main` is the entry point `gardener-extension-provider-local`.
"""

TYPE = "local"
PROVIDER_API_VERSION = "local.provider.extensions.gardener.cloud/v1alpha1"
