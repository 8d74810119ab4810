"""gardener-scheduler: binds every Shoot without `spec.seedName` to the Seed that suits it best, or says per Seed
why none does. `filters` and `strategy` are pure logic; `controller` watches the garden through its API with
`gardener.runtime`'s client and informers. Nothing else of ours imports this package, except that the local garden
may apply the permissions from `rbac`.
"""
