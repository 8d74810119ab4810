"""The AdmissionReview endpoint: same decisions as the in-process plugin, as JSON Patch and Status."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
from typing import Any

from aiohttp import web

from gardener.apis.core import admission
from gardener.apis.core.errors import FieldError
from gardener.apis.core.lookup import Lookup

log = logging.getLogger("gardener.admissioncontroller")


def json_patch(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-level replace/add/remove operations turning `before` into `after` (small and always valid)."""
    ops: list[dict[str, Any]] = []
    for key in sorted(set(before) | set(after)):
        path = "/" + key.replace("~", "~0").replace("/", "~1")
        if key not in after:
            ops.append({"op": "remove", "path": path})
        elif key not in before:
            ops.append({"op": "add", "path": path, "value": after[key]})
        elif before[key] != after[key]:
            ops.append({"op": "replace", "path": path, "value": after[key]})
    return ops


def review_response(review: dict[str, Any], *, lookup: Lookup) -> dict[str, Any]:
    req = review.get("request") or {}
    uid = req.get("uid", "")
    kind = req.get("kind") or {}
    user = req.get("userInfo") or {}
    original = req.get("object")
    obj = copy.deepcopy(original) if isinstance(original, dict) else None
    request = admission.Request(
        operation=str(req.get("operation", "")),
        group=str(kind.get("group", "")),
        kind=str(kind.get("kind", "")),
        subresource=str(req.get("subResource") or ""),
        obj=obj,
        old=req.get("oldObject") if isinstance(req.get("oldObject"), dict) else None,
        username=str(user.get("username", "")),
        groups=tuple(user.get("groups") or ()),
    )
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    problems = admission.admit(request, lookup=lookup) if admission.handles(request.group) else []
    if problems:
        resource = str((req.get("resource") or {}).get("resource") or f"{request.kind.lower()}s")
        response["allowed"] = False
        response["status"] = _status(request, problems, resource=resource)
    elif obj is not None and isinstance(original, dict) and obj != original:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(json_patch(original, obj)).encode()).decode()
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def _status(request: admission.Request, problems: list[FieldError], *, resource: str) -> dict[str, Any]:
    source = request.obj or request.old or {}
    name = str((source.get("metadata") or {}).get("name") or "")
    summary = ", ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
    if request.operation == "DELETE":
        message = admission.deletion_message(resource=resource, group=request.group, name=name, problems=problems)
        return {"code": 403, "reason": "Forbidden", "message": message}
    return {
        "code": 422,
        "reason": "Invalid",
        "message": f'{request.kind}.{request.group} "{name}" is invalid: {summary}',
        "details": {
            "name": name,
            "group": request.group,
            "kind": request.kind,
            "causes": [{"reason": p.reason, "message": p.message, "field": p.field} for p in problems],
        },
    }


def build_app(lookup: Lookup) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        try:
            review = await request.json()
        except ValueError:
            return web.json_response({"message": "body is not an AdmissionReview"}, status=400)
        result = await asyncio.to_thread(review_response, review, lookup=lookup)
        return web.json_response(result)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhooks/admit", handle)
    app.router.add_get("/healthz", healthz)
    return app
