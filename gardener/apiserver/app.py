"""Assembles the API server: storage, registry, controllers, authn/authz and the HTTP routes."""

from __future__ import annotations

import asyncio
import collections
import copy
import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gardener.apiserver import (
    bootstrappolicy,
    certificates,
    errors,
    httputil,
    impersonation,
    openapi,
    rbac,
    reviews,
    transport,
)
from gardener.apiserver.authn import Authenticator, Unauthenticated
from gardener.apiserver.bootstraptokens import BootstrapTokens
from gardener.apiserver.bootstraptokens import bootstrap_policy as bootstrapper_policy
from gardener.apiserver.builtin.admission.caches import AdmissionCaches
from gardener.apiserver.builtin.admission.plugins import default_chain
from gardener.apiserver.builtin.allocators import AllocationRepair, ServiceAllocator
from gardener.apiserver.controllers.aggregation import ClusterRoleAggregator
from gardener.apiserver.controllers.crds import CRDController
from gardener.apiserver.controllers.csrsigning import CSRSigner
from gardener.apiserver.controllers.gc import GarbageCollector
from gardener.apiserver.controllers.kubeletcsrapprover import KubeletCSRApprover
from gardener.apiserver.controllers.kubernetesservice import SYSTEM_PRIORITY_CLASSES, KubernetesServiceController
from gardener.apiserver.controllers.namespaces import NamespaceController
from gardener.apiserver.controllers.rbacindex import RBACIndex
from gardener.apiserver.controllers.resourcequota import ResourceQuotaController
from gardener.apiserver.controllers.serviceaccounts import ServiceAccountsController
from gardener.apiserver.discovery import VERSION_INFO, Discovery
from gardener.apiserver.errors import StatusError
from gardener.apiserver.gardenadmission import GardenAdmission
from gardener.apiserver.handlers import ResourceHandler
from gardener.apiserver.housekeeping import Housekeeping
from gardener.apiserver.kubeletclient import KUBELET_CLIENT, KubeletClient, KubeletClientConfig
from gardener.apiserver.rbac import RequestAttributes, UserInfo
from gardener.apiserver.requestinfo import RequestInfo, parse_request_info
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.seedauthorizer import Authorizer, StoreObjects, seed_restriction
from gardener.apiserver.storage.interface import Backend, StorageError, Unavailable
from gardener.apiserver.tokens import ServiceAccountTokenSigner, StaticTokenUser
from gardener.apiserver.webhooks import WebhookAdmission
from gardener.runtime.pki import KeyPair, ServerPKI, issue_client_cert, load_or_create_server_pki, ssl_server_context

log = logging.getLogger("gardener.apiserver")

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NOT_FOUND = StatusError(404, "NotFound", "the server could not find the requested resource", {})
#: what the middleware learnt about a request, for the handlers
USER = web.RequestKey("user", UserInfo)
REQUEST_INFO = web.RequestKey("ri", RequestInfo)


@dataclass
class ServerConfig:
    data_dir: Path
    bind_address: str = "127.0.0.1"
    port: int = 0
    hosts: tuple[str, ...] = ()
    static_tokens: dict[str, StaticTokenUser] = field(default_factory=dict)
    #: written once the server is ready; None to skip
    admin_kubeconfig: Path | None = None
    #: run the garden's admission (gardener.apis.core.admission) in-process; off when a webhook does it
    garden_admission: bool = True
    #: certificates and keys handed in (kube-apiserver's --client-ca-file, --tls-cert-file ...); None creates
    #: and keeps them under `data_dir/pki`
    pki: ServerPKI | None = None
    #: request bodies past this many bytes answer 413 (kube-apiserver's limit is 3 MiB)
    max_request_bytes: int = httputil.MAX_BODY_BYTES
    #: URL and header sizes, header/idle/TLS-handshake timeouts, open connections per client IP
    limits: transport.ConnectionLimits = field(default_factory=transport.ConnectionLimits)
    #: kube-apiserver's --service-cluster-ip-range (its default) and --service-node-port-range
    service_cluster_ip_range: str = "10.0.0.0/24"
    service_node_port_range: tuple[int, int] = (30000, 32767)
    #: kube-apiserver's --kubelet-preferred-address-types, --kubelet-certificate-authority and
    #: --kubelet-client-certificate/-key: how pods/log, exec, attach, port-forward and nodes/proxy reach kubelets
    kubelet: KubeletClientConfig = field(default_factory=KubeletClientConfig)


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "apiserver_request_total",
            "Requests by verb, resource and code",
            ["verb", "resource", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "apiserver_request_duration_seconds",
            "Request latency by verb (watches excluded)",
            ["verb"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.watchers = Gauge("apiserver_registered_watchers", "Open watches", registry=self.registry)


class APIServer:
    def __init__(self, *, config: ServerConfig, backend: Backend) -> None:
        self.config = config
        self.backend = backend
        self.registry = Registry()
        self.store = ObjectStore(backend=backend, registry=self.registry)
        self.discovery = Discovery(self.registry)
        self.pki: ServerPKI = config.pki or load_or_create_server_pki(
            config.data_dir, hosts=[config.bind_address, *config.hosts]
        )
        self.signer = ServiceAccountTokenSigner(private_key_pem=self.pki.service_account_key_pem)
        self.bootstrap_tokens = BootstrapTokens(backend)
        self.authenticator = Authenticator(
            signer=self.signer,
            static_tokens=config.static_tokens,
            backend=backend,
            registry=self.registry,
            bootstrap_tokens=self.bootstrap_tokens,
        )
        self.rbac = RBACIndex(backend)
        self.authorizer = Authorizer(
            objects=StoreObjects(store=self.store, registry=self.registry), rbac_source=self.rbac
        )
        self.handler = ResourceHandler(store=self.store, registry=self.registry, signer=self.signer)
        self.kubelet = KubeletClient(config=config.kubelet, ca=self.pki.ca)
        self.controllers: list[Any] = [
            CRDController(store=self.store, registry=self.registry),
            NamespaceController(store=self.store, registry=self.registry),
            GarbageCollector(store=self.store, registry=self.registry),
            ClusterRoleAggregator(store=self.store, registry=self.registry),
            Housekeeping(events=backend.events),
            self.bootstrap_tokens,
            CSRSigner(store=self.store, registry=self.registry, ca=self.pki.ca),
            KubeletCSRApprover(store=self.store, registry=self.registry),
        ]
        webhooks = WebhookAdmission(store=self.store, registry=self.registry)
        self.controllers.append(webhooks)
        self.store.mutating.append(webhooks.mutate)
        self.store.validating.append(webhooks.validate)
        self.store.mutating.append(certificates.mutate)
        self.store.validating += [certificates.validate, seed_restriction]
        if config.garden_admission:
            garden = GardenAdmission(store=self.store, registry=self.registry)
            self.store.mutating.append(garden)
            self.store.validating.append(garden.on_delete)
        # kube-apiserver's default admission plugins: its own run before the webhooks, service IPs and node ports
        # are allocated once every step has changed the Service, ResourceQuota charges last
        quotas = ResourceQuotaController(store=self.store, registry=self.registry)
        accounts = ServiceAccountsController(store=self.store, registry=self.registry, ca_pem=self.pki.ca.cert_pem)
        # what the plugins read on every write, in memory like kube's informer caches
        caches = AdmissionCaches(backend=backend, registry=self.registry)
        self.controllers += [caches, quotas, accounts, AllocationRepair(backend=backend)]
        chain = default_chain(
            store=self.store, recount=quotas.recount, publish_root_ca=accounts.publish_root_ca, caches=caches
        )
        self.store.mutating[0:0] = chain.mutating
        self.store.validating[0:0] = chain.validating
        allocator = ServiceAllocator(
            backend=backend,
            cluster_ip_range=config.service_cluster_ip_range,
            node_port_range=config.service_node_port_range,
        )
        self.store.mutating.append(allocator.admit)
        signers = certificates.SignerAuthorization(authorize=self.authorizer.authorize)
        self.store.validating += [signers, allocator.on_delete, chain.last]
        self.metrics = _Metrics()
        self._openapi_cache: dict[str, Any] = {}
        self._openapi_generation = -1
        self._runner: web.AppRunner | None = None
        self.port = 0
        #: background tasks started with the server, and the ones that died (name -> error)
        self._supervised: dict[str, asyncio.Task[Any]] = {}
        self.failed_tasks: dict[str, str] = {}
        self._stopping = False

    # ---- lifecycle ----

    async def start(self) -> int:
        self._stopping = False
        await self.backend.start()
        await self.rbac.start()
        await self._bootstrap()
        for controller in self.controllers:
            await controller.start()
        self._supervise(_workers([self.backend, self.rbac, *self.controllers]))
        app = web.Application(middlewares=[self._middleware], client_max_size=self.config.max_request_bytes)
        app[httputil.MAX_BODY_BYTES_KEY] = self.config.max_request_bytes
        app[KUBELET_CLIENT] = self.kubelet
        app.router.add_route("*", "/{tail:(?s:.*)}", self._dispatch, expect_handler=httputil.expect_continue)
        self._runner = transport.LimitedRunner(
            app, limits=self.config.limits, access_log=None, handler_cancellation=True, shutdown_timeout=5.0
        )
        await self._runner.setup()
        site = transport.LimitedSite(
            self._runner,
            self.config.bind_address,
            self.config.port,
            ssl_context=ssl_server_context(self.pki),
            backlog=1024,
        )
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        if self.config.admin_kubeconfig is not None:
            self.write_kubeconfig(self.config.admin_kubeconfig, user="system:admin", groups=("system:masters",))
        log.info("Serving", extra={"address": self.url})
        return self.port

    @property
    def url(self) -> str:
        host = self.config.bind_address
        host = f"[{host}]" if ":" in host else host
        return f"https://{host}:{self.port}"

    def write_kubeconfig(self, path: Path, *, user: str, groups: tuple[str, ...]) -> None:
        from gardener.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig

        cert: KeyPair = issue_client_cert(self.pki.ca, user=user, groups=groups)
        config = build_kubeconfig(
            server=self.url,
            ca_pem=self.pki.ca.cert_pem,
            user=user,
            client_cert_pem=cert.cert_pem,
            client_key_pem=cert.key_pem,
            context="default",
        )
        write_kubeconfig(path, config)

    def _supervise(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Watch the long-running tasks of the backend and the controllers (the SQLite writer thread has a task
        standing for it): one that dies of an error makes /readyz, /livez and /healthz answer 500, like a failed
        post-start hook in kube-apiserver, so the process gets restarted instead of hanging half-dead.
        """
        for task in tasks:
            if task.done():
                continue
            name = task.get_name()
            while name in self._supervised:
                name += "'"
            self._supervised[name] = task
            task.add_done_callback(functools.partial(self._task_done, name))

    def _task_done(self, name: str, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self._stopping:
            return
        exc = task.exception()
        if exc is None:
            return
        self.failed_tasks[name] = repr(exc)
        log.critical("Background task died; reporting unhealthy", exc_info=exc, extra={"task": name})

    def _health(self, request: web.Request, path: str) -> web.Response:
        """kube's /healthz, /livez and /readyz: "ok", or one line per check and 500 when one failed."""
        endpoint, _, only = path.strip("/").partition("/")
        checks = {"ping": True, **{f"poststarthook/{n}": n not in self.failed_tasks for n in sorted(self._supervised)}}
        if only:
            # a single check; names this server does not have pass, as before there were checks at all
            healthy = checks.get(only, True)
            text = "ok" if healthy else f"internal server error: {only} failed"
            return web.Response(text=text, status=200 if healthy else 500, content_type="text/plain")
        healthy = all(checks.values())
        if healthy and "verbose" not in request.query:
            return web.Response(text="ok", content_type="text/plain")
        lines = [f"[+]{name} ok" if ok else f"[-]{name} failed: reason withheld" for name, ok in checks.items()]
        lines.append(f"{endpoint} check {'passed' if healthy else 'failed'}")
        return web.Response(text="\n".join(lines) + "\n", status=200 if healthy else 500, content_type="text/plain")

    async def stop(self) -> None:
        self._stopping = True
        # End open watches first: their clients reconnect elsewhere (or after restart) with their RV.
        self.backend.events.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for controller in self.controllers:
            await controller.stop()
        await self.kubelet.close()
        await self.rbac.stop()
        await self.backend.close()

    async def _bootstrap(self) -> None:
        ns_info = self.registry.get("", "v1", "namespaces")
        assert ns_info is not None
        for name in SYSTEM_NAMESPACES:
            await self._ensure(ns_info, "", {"metadata": {"name": name}})
        for obj in [*bootstrappolicy.bootstrap_policy(), *bootstrapper_policy()]:
            group, _, version = obj["apiVersion"].rpartition("/")
            plural = {"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings"}.get(obj["kind"])
            info = self.registry.get(group, version, plural or "")
            if info is not None:
                await self._ensure(info, "", obj)
        priority_classes = self.registry.get("scheduling.k8s.io", "v1", "priorityclasses")
        assert priority_classes is not None
        for obj in SYSTEM_PRIORITY_CLASSES:
            await self._ensure(priority_classes, "", obj)
        # the `kubernetes` Service and its endpoints need the port, known once listening: a controller keeps them
        if not any(isinstance(c, KubernetesServiceController) for c in self.controllers):
            self.controllers.append(
                KubernetesServiceController(
                    store=self.store,
                    cluster_ip_range=self.config.service_cluster_ip_range,
                    bind_address=self.config.bind_address,
                    port=lambda: self.port,
                )
            )

    async def _ensure(self, info: Any, namespace: str, obj: dict[str, Any]) -> None:
        if await self.backend.get(info.key(namespace, obj["metadata"]["name"])) is None:
            try:
                await self.store.create(info, namespace, copy.deepcopy(obj), ctx=Context())
            except StatusError as exc:
                if exc.code != 409:
                    raise

    # ---- HTTP ----

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        verb = "unknown"
        resource = ""
        code = 500
        try:
            if request.path in PUBLIC_PATHS or request.path.startswith(("/healthz/", "/livez/", "/readyz/")):
                response: web.StreamResponse = await handler(request)
                code = response.status
                return response
            authenticated = await self.authenticator.authenticate(request)
            if authenticated is None:
                raise errors.unauthorized()
            ri = parse_request_info(method=request.method, path=request.path, query=request.query)
            user = await impersonation.impersonate(
                requestor=authenticated,
                headers=request.headers,
                authorizer=self.authorizer,
                context={"method": request.method, "path": request.path},
            )
            verb, resource = ri.verb, ri.resource
            attrs = RequestAttributes(
                user=user,
                verb=ri.verb,
                is_resource_request=ri.is_resource_request,
                path=ri.path,
                api_group=ri.api_group,
                api_version=ri.api_version,
                resource=ri.resource,
                subresource=ri.subresource,
                namespace=ri.namespace,
                name=ri.name,
            )
            decision = await self.authorizer.authorize(attrs)
            if not decision.allowed:
                raise errors.forbidden(
                    rbac.forbidden_message(attrs, reason=decision.reason),
                    details={"name": ri.name, "group": ri.api_group, "kind": ri.resource}
                    if ri.is_resource_request
                    else {},
                )
            request[USER] = user
            request[REQUEST_INFO] = ri
            if ri.api_group in reviews.GROUPS:
                reviewer = reviews.Reviewer(authenticator=self.authenticator, authorizer=self.authorizer)
                request[reviews.REVIEWER] = reviewer
            if verb == "watch":
                self.metrics.watchers.inc()
            try:
                response = await handler(request)
            finally:
                if verb == "watch":
                    self.metrics.watchers.dec()
            code = response.status
            return response
        except Unauthenticated:
            code = 401
            return httputil.status_response(errors.unauthorized())
        except StatusError as exc:
            code = exc.code
            return httputil.status_response(exc)
        except StorageError as exc:
            status = _storage_status(exc)
            code = status.code
            log.warning("Storage failed a request", extra={"path": request.path, "error": repr(exc)})
            return httputil.status_response(status)
        except web.HTTPError as exc:
            # aiohttp's own (a body over client_max_size read elsewhere): a Status, not a logged 500
            status = _http_status(exc, limit=self.config.max_request_bytes)
            code = status.code
            return httputil.status_response(status)
        except (ConnectionResetError, asyncio.CancelledError):
            code = 499
            raise
        except Exception:
            log.exception("Request failed", extra={"method": request.method, "path": request.path})
            code = 500
            return httputil.status_response(errors.internal("an internal error occurred; see the server log"))
        finally:
            self.metrics.requests.labels(verb, resource, str(code)).inc()
            if verb != "watch":
                self.metrics.latency.labels(verb).observe(time.perf_counter() - started)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return self._health(request, path)
        if path == "/version":
            return httputil.json_response(VERSION_INFO)
        ri = request[REQUEST_INFO]
        if not ri.is_resource_request:
            return await self._non_resource(request, path)
        user = request[USER]
        return await self.handler.handle(request, ri, user)

    async def _non_resource(self, request: web.Request, path: str) -> web.StreamResponse:
        if request.method != "GET":
            raise errors.method_not_allowed(f"{request.method} is not supported on {path}")
        if path == "/metrics":
            return web.Response(
                body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )
        if path == "/api":
            return httputil.json_response(self.discovery.core_versions())
        if path == "/api/v1":
            return httputil.json_response(self.discovery.resource_list("", "v1"))
        if path == "/apis":
            return httputil.json_response(self.discovery.group_list())
        if path.startswith("/apis/"):
            parts = path.split("/")[2:]
            doc = (
                self.discovery.group(parts[0]) if len(parts) == 1 else self.discovery.resource_list(parts[0], parts[1])
            )
            if doc is None:
                raise NOT_FOUND
            return httputil.json_response(doc)
        if path in ("/openapi/v2", "/openapi/v3") or path.startswith("/openapi/v3/"):
            return self._openapi(request, path)
        raise NOT_FOUND

    def _openapi(self, request: web.Request, path: str) -> web.Response:
        """/openapi/v3 (index and group-versions) and /openapi/v2, built once per Registry generation.

        /openapi/v2 is negotiated as kube-openapi does: JSON, or the gnostic protobuf that client-go's
        OpenAPISchema asks for alone (kubectl validates a `kind: List` with it); 406 when neither is acceptable.
        """
        if self._openapi_generation != self.registry.generation:
            self._openapi_cache.clear()
            self._openapi_generation = self.registry.generation
        if path == "/openapi/v2":
            media_type = openapi.v2_media_type(request.headers.get("Accept", ""))
            if media_type is None:
                accepted = ", ".join(openapi.V2_MEDIA_TYPES)
                raise StatusError(406, "NotAcceptable", f"only the following media types are accepted: {accepted}")
            if "v2" not in self._openapi_cache:
                self._openapi_cache["v2"] = openapi.v2_document(self.registry)
            if media_type == openapi.V2_JSON:
                response = httputil.json_response(self._openapi_cache["v2"])
            else:
                if "v2.pb" not in self._openapi_cache:
                    self._openapi_cache["v2.pb"] = openapi.v2_protobuf(self._openapi_cache["v2"])
                response = web.Response(body=self._openapi_cache["v2.pb"], content_type=media_type)
            response.headers["Vary"] = "Accept"
            return response
        gv_path = path[len("/openapi/v3") :].strip("/")
        key = gv_path or "/"
        if key not in self._openapi_cache:
            if not gv_path:
                doc: Any = openapi.v3_index(self.registry)
            else:
                parts = gv_path.split("/")
                if parts[0] == "api" and len(parts) == 2:
                    doc = openapi.v3_group_version(self.registry, "", parts[1])
                elif parts[0] == "apis" and len(parts) == 3:
                    doc = openapi.v3_group_version(self.registry, parts[1], parts[2])
                else:
                    doc = None
            if doc is None:
                raise NOT_FOUND
            self._openapi_cache[key] = doc
        return httputil.json_response(self._openapi_cache[key])


def _workers(roots: list[Any]) -> list[asyncio.Task[Any]]:
    """The long-running tasks of `roots`: by this code base's convention a worker loop is a task held directly
    in an attribute (`self._task`, `self._worker`, an informer's, the backend's behind the watch cache), while
    one-off jobs (a namespace's termination, a cache load) live in collections and are their owner's to handle.
    Objects of this package held in attributes are searched too, two levels down.
    """
    found: dict[int, asyncio.Task[Any]] = {}
    seen: set[int] = set()
    queue = collections.deque((root, 0) for root in roots)  # breadth first: each object at its lowest level
    while queue:
        obj, level = queue.popleft()
        if id(obj) in seen or not hasattr(obj, "__dict__"):
            continue
        seen.add(id(obj))
        for value in vars(obj).values():
            if isinstance(value, asyncio.Task):
                found[id(value)] = value
            elif level < 2 and type(value).__module__.startswith("gardener."):
                queue.append((value, level + 1))
    return list(found.values())


def _storage_status(exc: StorageError) -> StatusError:
    """Storage failures that reach the HTTP layer: 503 with Retry-After when trying again may help, else 500."""
    if isinstance(exc, Unavailable):
        return errors.service_unavailable(f"storage is unavailable: {exc}")
    return errors.internal(f"Internal error occurred: {exc}")  # Unserializable included: the server built it


def _http_status(exc: web.HTTPError, *, limit: int) -> StatusError:
    if exc.status == 413:
        return errors.request_entity_too_large(limit)
    if exc.status >= 500:
        return errors.internal(exc.text or exc.reason)
    return StatusError(exc.status, "BadRequest" if exc.status == 400 else exc.reason.replace(" ", ""), exc.reason)
