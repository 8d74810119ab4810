"""Controllers that live inside the API server because kube-apiserver (or its always-on
companions) provide them: CRD establishment, namespace finalization, garbage collection,
and the RBAC index the authorizer reads.

They act through the ObjectStore with the server's own identity and react to the event window.
"""
