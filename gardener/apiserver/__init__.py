"""The embedded Kubernetes-compatible API server: HTTP layer, storage, watch, admission, authn/authz.

Clients must not be able to tell it from kube-apiserver for the features it serves. Only its
own entry module and tests import it; everything else talks to it over HTTPS.
"""
