"""The Terraformer: runs real Terraform for provider extensions, with its state kept in the seed.

`init`/`plan`/`apply`/`destroy` run in a fresh temporary directory from a module under `terraform/`; the state
lives in a Secret `<name>.tf-state` next to the resource it belongs to, so any replica of an extension on any
machine can go on where another stopped. Credentials reach Terraform only as `TF_VAR_` environment variables.
Imports `extensions.library` and `gardener.apis` only.
"""
