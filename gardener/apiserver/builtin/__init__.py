"""Built-in Kubernetes kinds as kube-apiserver 1.32 serves them: schemas, defaulting, validation, admission."""
