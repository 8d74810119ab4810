"""core.gardener.cloud: Project, CloudProfile, Seed, Shoot, SecretBinding, Quota, ControllerRegistration,
ControllerInstallation."""
