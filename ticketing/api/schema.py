"""OpenAPI post-processing: every operation documents its error answers with one schema."""

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error answer of the API.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable."},
                "message": {"type": "string", "description": "For humans."},
                "details": {"description": "Per-field errors or more context; may be null."},
            },
        }
    },
}

ERRORS = {
    400: "Malformed or invalid input.",
    401: "Not authenticated, or the bearer token is not valid.",
    403: "Authenticated but not allowed.",
    404: "No such resource (or not visible to the caller).",
    409: "Conflict: seats taken, or the same request still running.",
    413: "The request body is too large.",
    414: "The request URI is too long (answered by the proxy in front of the API).",
    422: "Well-formed, but a business rule refuses it.",
    429: "Rate limited; see Retry-After.",
    503: "A dependency (Redis, RabbitMQ, Keycloak) is down; see Retry-After.",
}
# Any operation can meet these: bad input, an overlong URI, auth, missing ids, throttles, outages.
_ALWAYS = [400, 401, 403, 404, 414, 429, 503]
_WRITES = {"post", "put", "patch", "delete"}


def document_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = _ALWAYS + ([409, 413, 422] if method in _WRITES else [])
            responses = operation["responses"]
            for status in sorted(statuses + [int(s) for s in responses if int(s) >= 400]):
                answer = responses.setdefault(
                    str(status), {"description": ERRORS.get(status, "Error.")}
                )
                answer["content"] = content
            operation["responses"] = dict(sorted(responses.items()))
    return result
