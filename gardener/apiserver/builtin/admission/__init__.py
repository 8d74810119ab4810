"""kube-apiserver 1.32's default-on admission plugins for built-in kinds, one module per plugin.

Each plugin is an admission step of `gardener.apiserver.rest.ObjectStore` (mutating or validating);
`plugins.install` adds them in kube's order. Imported by `gardener.apiserver.app` only.
"""
