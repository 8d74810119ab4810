"""kube-apiserver 1.32's default-on admission plugins for built-in kinds, one module per plugin.

Each plugin is an admission step of `gardener.apiserver.rest.ObjectStore` (mutating or validating);
`plugins.default_chain` lists them in kube's order, reading what they need from `caches` (in memory, like
kube's informer caches). Imported by `gardener.apiserver.app` only.
"""
