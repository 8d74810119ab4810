"""Shoot control-plane components: typed values in, manifests out (jinja2 charts under `charts/`), and the four
verbs `deploy`, `wait_ready`, `destroy`, `wait_gone` (Gardener's DeployWaiter). Components never see a Shoot: the
botanist turns one into their values. Only `gardenlet` code imports this package.
"""
