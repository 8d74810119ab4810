"""seedmanagement.gardener.cloud: ManagedSeed (a Shoot registered as a Seed)."""
