"""One OpenAPI document for the whole suite: the gateway's own plus each service's paths under
the prefixes routed to it. Component names get a per-service prefix (`FacilityBooking_Slot`)
and every `$ref` is rewritten to match, so two services may both have a `Problem` schema.
A service whose document cannot be fetched is named in `x-unavailable-services`."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gateway.routing import RouteTable

log = logging.getLogger("cityhall.gateway.openapi")

Document = dict[str, Any]
Fetch = Callable[[str], Awaitable[Document]]

_COMPONENTS_REF = "#/components/"
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def component_prefix(service: str) -> str:
    return "".join(part.capitalize() for part in service.split("_")) + "_"


def _rewrite_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_COMPONENTS_REF):
                kind, _, name = value[len(_COMPONENTS_REF) :].partition("/")
                out[key] = f"{_COMPONENTS_REF}{kind}/{prefix}{name}"
            else:
                out[key] = _rewrite_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, prefix) for item in node]
    return node


SECURITY_SCHEMES = "securitySchemes"


def _merge_scopes(components: dict[str, dict[str, Any]], service_schemes: Any) -> None:
    """Security schemes are named, not referenced, by every operation's `security`, so they
    keep their names: the gateway's own (its token endpoint) stand, and gain the scopes the
    services' operations name."""
    own = components.get(SECURITY_SCHEMES)
    if not isinstance(own, dict) or not isinstance(service_schemes, dict):
        if isinstance(service_schemes, dict):
            components.setdefault(SECURITY_SCHEMES, {}).update(service_schemes)
        return
    for name, scheme in service_schemes.items():
        if name not in own:
            own[name] = scheme
            continue
        for flow_name, flow in (scheme.get("flows") or {}).items():
            target = (own[name].get("flows") or {}).get(flow_name)
            if isinstance(target, dict) and isinstance(flow, dict):
                target.setdefault("scopes", {}).update(flow.get("scopes", {}))


def _under(path: str, prefixes: list[str]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def merge_documents(
    own: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any] | None],
    routes: RouteTable,
    *,
    title: str = "cityhall API",
) -> Document:
    """`services` maps a service name to its document, or None when it could not be fetched."""
    merged: Document = copy.deepcopy(dict(own))
    own_schemas = dict(merged.get("components", {}).get("schemas", {}))
    merged.setdefault("info", {})["title"] = title
    paths: dict[str, Any] = merged.setdefault("paths", {})
    components: dict[str, dict[str, Any]] = merged.setdefault("components", {})
    tags: list[dict[str, Any]] = list(merged.get("tags", []))
    seen_tags = {t.get("name") for t in tags}
    operation_ids = {
        op.get("operationId")
        for item in paths.values()
        for method, op in item.items()
        if method in _HTTP_METHODS and isinstance(op, dict)
    }
    unavailable: list[str] = []
    for service in sorted(services):
        document = services[service]
        if document is None:
            unavailable.append(service)
            continue
        prefix = component_prefix(service)
        document = _rewrite_refs(document, prefix)
        prefixes = routes.prefixes_of(service)
        for path, item in document.get("paths", {}).items():
            if not _under(path, prefixes) or path in paths:
                continue
            for method, operation in item.items():
                if method not in _HTTP_METHODS or not isinstance(operation, dict):
                    continue
                operation["x-service"] = service
                op_id = operation.get("operationId")
                if op_id in operation_ids:
                    operation["operationId"] = f"{service}__{op_id}"
                operation_ids.add(operation.get("operationId"))
            paths[path] = item
        for kind, entries in document.get("components", {}).items():
            if kind == SECURITY_SCHEMES:
                _merge_scopes(components, entries)
                continue
            if isinstance(entries, dict):
                target = components.setdefault(kind, {})
                target.update({f"{prefix}{name}": value for name, value in entries.items()})
        for tag in document.get("tags", []):
            if tag.get("name") not in seen_tags:
                seen_tags.add(tag.get("name"))
                tags.append(tag)
    if tags:
        merged["tags"] = tags
    _distinct_titles(components.get("schemas", {}), own_names=set(own_schemas))
    merged["x-unavailable-services"] = unavailable
    return merged


def _distinct_titles(schemas: dict[str, Any], *, own_names: set[str]) -> None:
    """Client generators name classes after a schema's `title`: two services' `Problem` (or
    the gateway's and a service's) would be one class, so a service's schema whose title is
    not unique takes its prefixed component name as its title."""
    counts: dict[str, int] = {}
    for schema in schemas.values():
        if isinstance(schema, dict) and isinstance(schema.get("title"), str):
            counts[schema["title"]] = counts.get(schema["title"], 0) + 1
    for name, schema in schemas.items():
        if name in own_names or not isinstance(schema, dict):
            continue
        if counts.get(schema.get("title", ""), 0) > 1:
            schema["title"] = name


class OpenAPICache:
    """Each service's document, fetched once; one that could not be fetched is tried again
    on the next request for the merged document."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}
        self._lock = asyncio.Lock()

    def clear(self) -> None:
        self._documents.clear()

    async def documents(self, services: list[str], fetch: Fetch) -> dict[str, Document | None]:
        async with self._lock:
            missing = [s for s in services if s not in self._documents]
            results = await asyncio.gather(*(fetch(s) for s in missing), return_exceptions=True)
            for service, result in zip(missing, results, strict=True):
                if isinstance(result, BaseException):
                    log.info("OpenAPI of %s unavailable: %r", service, result)
                elif isinstance(result, dict) and isinstance(result.get("paths"), dict):
                    self._documents[service] = result
            return {s: self._documents.get(s) for s in services}
