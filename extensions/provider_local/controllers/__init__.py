"""provider-local's extension controllers for resources of type `local`: Infrastructure (Terraform with
`terraform/local`), ControlPlane, Worker (a delegate of the library's generic Worker actuator), OperatingSystemConfig
(user data for the machine image `local`), Network and DNSRecord (which report what they mean on this machine), and
Extension, BackupBucket, which need nothing here. Built on `extensions.library`; `main` is the entry point
`gardener-extension-provider-local`, deployed through its ControllerRegistration (`gardener.local.seed`).
"""

TYPE = "local"
PROVIDER_API_VERSION = "local.provider.extensions.gardener.cloud/v1alpha1"
