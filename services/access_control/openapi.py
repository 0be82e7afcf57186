"""OpenAPI 3.1 of access_control's HTTP API, served at GET /openapi.json."""

from __future__ import annotations

from typing import Any

_ID = {"type": "string", "pattern": r"^[A-Za-z0-9_.:\-]{1,64}$"}
_ERROR = {
    "description": "An error",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"error": {"type": "string"}}}
        }
    },
}
_WHY_FIELDS: dict[str, Any] = {
    "member_id": _ID,
    "reason": {"enum": ["role", "untagged", "tags"]},
    "tags": {"type": "array", "items": {"type": "string"}, "description": "shared tags"},
}
_WHY = {"type": "object", "required": ["member_id", "reason", "tags"], "properties": _WHY_FIELDS}
_ENTRY = {
    "type": "object",
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "member_id": _ID,
        "change": {"enum": ["granted", "revoked"]},
        "granted": {"type": "array", "items": _ID},
        "revoked": {"type": "array", "items": _ID},
        "reason": {"type": ["string", "null"], "description": "role, untagged or tags:a,b"},
        "reasons": {"type": "object", "additionalProperties": {"type": "string"}},
        "cause_id": {"type": "string"},
        "cause_type": {"type": "string"},
        "actor_id": {"type": ["string", "null"]},
    },
}


def _param(name: str, where: str = "path", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema or _ID}


def _ok(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {
        "200": {"description": "OK", "content": {media: {"schema": schema}}},
        "400": _ERROR,
        "401": _ERROR,
        "404": _ERROR,
    }


_ACCOUNT, _MEMBER, _CLIENT = _param("account_id"), _param("member_id"), _param("client_id")
_PAGE = [
    _param("limit", "query", type="integer", minimum=1, maximum=1000),
    _param("after", "query", type="string"),
]
_RANGE = [
    _param("since", "query", type="string", format="date-time"),
    _param("until", "query", type="string", format="date-time"),
]

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "access_control", "version": "1.0.0"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/accounts/{account_id}/members/{member_id}/visible-clients": {
            "get": {
                "summary": "The clients a member sees, sorted, a page at a time (as_of: then)",
                "parameters": [
                    _ACCOUNT,
                    _MEMBER,
                    *_PAGE,
                    _param("as_of", "query", type="string", format="date-time"),
                ],
                "responses": _ok(
                    {
                        "type": "object",
                        "properties": {
                            "member_id": _ID,
                            "clients": {"type": "array", "items": _ID},
                            "next": {"type": ["string", "null"]},
                        },
                    }
                ),
            }
        },
        "/accounts/{account_id}/members/{member_id}/clients/{client_id}": {
            "get": {
                "summary": "May this member open this client",
                "parameters": [_ACCOUNT, _MEMBER, _CLIENT],
                "responses": _ok(
                    {"type": "object", "properties": {"visible": {"type": "boolean"}}}
                ),
            }
        },
        "/accounts/{account_id}/members/{member_id}/clients:check": {
            "post": {
                "summary": "Which of up to 1,000 client ids this member may open",
                "parameters": [_ACCOUNT, _MEMBER],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["client_ids"],
                                "properties": {
                                    "client_ids": {"type": "array", "items": _ID, "maxItems": 1000}
                                },
                            }
                        }
                    },
                },
                "responses": _ok(
                    {
                        "type": "object",
                        "properties": {
                            "member_id": _ID,
                            "visible": {"type": "array", "items": _ID},
                        },
                    }
                ),
            }
        },
        "/accounts/{account_id}/clients/{client_id}/members": {
            "get": {
                "summary": "The members who see a client, sorted, each with the reason",
                "parameters": [_ACCOUNT, _CLIENT, *_PAGE],
                "responses": _ok(
                    {
                        "type": "object",
                        "properties": {
                            "client_id": _ID,
                            "members": {"type": "array", "items": _WHY},
                            "next": {"type": ["string", "null"]},
                        },
                    }
                ),
            }
        },
        "/accounts/{account_id}/members/{member_id}/history": {
            "get": {
                "summary": "Every grant and revoke of a member, oldest first",
                "parameters": [_ACCOUNT, _MEMBER, *_RANGE],
                "responses": _ok(
                    {
                        "type": "object",
                        "properties": {
                            "member_id": _ID,
                            "entries": {"type": "array", "items": _ENTRY},
                        },
                    }
                ),
            }
        },
        "/accounts/{account_id}/clients/{client_id}/history": {
            "get": {
                "summary": "Every grant and revoke of a client, oldest first",
                "parameters": [_ACCOUNT, _CLIENT, *_RANGE],
                "responses": _ok(
                    {
                        "type": "object",
                        "properties": {
                            "client_id": _ID,
                            "entries": {"type": "array", "items": _ENTRY},
                        },
                    }
                ),
            }
        },
        "/accounts/{account_id}/access-matrix": {
            "get": {
                "summary": "Every (member, client, reason) of the account, streamed as JSON Lines",
                "parameters": [_ACCOUNT],
                "responses": _ok(
                    {
                        "type": "object",
                        "properties": {"client_id": _ID, **_WHY_FIELDS},
                    },
                    "application/x-ndjson",
                ),
            }
        },
    },
}
