"""service-a's public API as an OpenAPI 3.1 document, served at ``GET /openapi.json``.

Built from the same constants the validation uses (``validation.py``, the settings), so the document
cannot drift from what the service accepts; ``tests/fuzz`` feeds it to Schemathesis.

The request body's schema is written in JSON Schema draft 4 (its ``$schema`` says so, as OpenAPI 3.1
allows for a root schema): there ``integer`` is "a JSON number without a fraction or exponent part",
which is the lab's rule for integers in a body (``chaoslab.inputs``). In the 2020-12 dialect OpenAPI 3.1
uses by default, ``integer`` is any number with a zero fraction and admits ``2.0``, which the service
refuses.
"""

from __future__ import annotations

from chaoslab import __version__
from chaoslab.inputs import BIGINT_MAX, MAX_DEPTH
from chaoslab.services.service_a.validation import MAX_QUANTITY, SKU_PATTERN

ID = {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX}
BODY_DIALECT = "http://json-schema.org/draft-04/schema#"
"""The dialect of the request body's schema: its ``integer`` is the service's (see the module)."""
JSON_INTEGER = 'A JSON integer: no fraction or exponent (2, never 2.0, 2e0 or "2").'
MONEY = {"type": ["string", "null"], "pattern": r"^\d+\.\d{2}$", "description": "Decimal string, e.g. 12.34."}
SKU = {"type": "string", "pattern": f"^{SKU_PATTERN}$"}


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(schema_ref: str, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}


def _path_id(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": ID}


def document(max_items: int, max_list: int) -> dict:
    """The document for a service-a configured with ``max_items`` lines per checkout and listing at
    most ``max_list`` orders."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "service-a (orders)",
            "version": __version__,
            "description": "The chaoslab shop's public API. Errors are JSON with a one-line message. "
            f"JSON bodies nest at most {MAX_DEPTH} levels and repeat no key; integers in a body are JSON "
            "integers, integers in a path or query are ASCII digits.",
        },
        "paths": {
            "/checkout": {
                "post": {
                    "operationId": "checkout",
                    "summary": "Place an order: reserve, price, charge, mark paid.",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "A retry with the same key returns the same order and charges once.",
                            "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Checkout"}}},
                    },
                    "responses": {
                        "200": _ok("#/components/schemas/Order", "A replay: the order was already paid."),
                        "201": _ok("#/components/schemas/Order", "Paid."),
                        "400": _error("Malformed request; the message names the field."),
                        "402": _error("The card was declined."),
                        "409": _error("A checkout with this key is in progress, or its charge was voided."),
                        "413": _error("Body too large."),
                        "415": _error("The body is not sent as Content-Type: application/json."),
                        "422": _error("Unknown customer or product, or a key reused for another checkout."),
                        "502": _error("A dependency answered with an error."),
                        "503": _error("A dependency is down; the error carries order_id."),
                        "504": _error("A dependency is too slow; the error carries order_id."),
                    },
                }
            },
            "/orders/{order_id}": {
                "get": {
                    "operationId": "getOrder",
                    "parameters": [_path_id("order_id", "The order's id.")],
                    "responses": {
                        "200": _ok("#/components/schemas/Order"),
                        "400": _error("Not an id."),
                        "404": _error("No such order."),
                    },
                }
            },
            "/orders": {
                "get": {
                    "operationId": "listOrders",
                    "parameters": [
                        {"name": "customer", "in": "query", "required": True, "schema": ID},
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": max_list, "default": 20},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The customer's orders, newest first.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["orders"],
                                        "properties": {
                                            "orders": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}}
                                        },
                                    }
                                }
                            },
                        },
                        "400": _error("Missing or malformed customer or limit."),
                    },
                }
            },
            "/customers/{customer_id}": {
                "get": {
                    "operationId": "getCustomer",
                    "parameters": [_path_id("customer_id", "The customer's id.")],
                    "responses": {
                        "200": _ok("#/components/schemas/Customer"),
                        "400": _error("Not an id."),
                        "404": _error("No such customer."),
                    },
                }
            },
            "/products": {
                "get": {
                    "operationId": "listProducts",
                    "responses": {
                        "200": {
                            "description": "The catalogue.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["products"],
                                        "properties": {
                                            "products": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Product"},
                                            }
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/products/{sku}": {
                "get": {
                    "operationId": "getProduct",
                    "parameters": [{"name": "sku", "in": "path", "required": True, "schema": SKU}],
                    "responses": {
                        "200": _ok("#/components/schemas/Product"),
                        "400": _error("Not a SKU."),
                        "404": _error("No such product."),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Checkout": {
                    "$schema": BODY_DIALECT,
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["customer_id", "items"],
                    "properties": {
                        "customer_id": {**ID, "description": JSON_INTEGER},
                        "items": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_items,
                            "description": f"Lines of one SKU add up: their quantities total at most {MAX_QUANTITY}.",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["sku", "quantity"],
                                "properties": {
                                    "sku": SKU,
                                    "quantity": {
                                        "type": "integer",
                                        "minimum": 1,
                                        "maximum": MAX_QUANTITY,
                                        "description": JSON_INTEGER,
                                    },
                                },
                            },
                        },
                    },
                },
                "Order": {
                    "type": "object",
                    "required": ["id", "customer_id", "status", "items"],
                    "properties": {
                        "id": ID,
                        "customer_id": ID,
                        "status": {"enum": ["pending", "paid", "payment_failed", "fulfilled"]},
                        "currency": {"type": "string"},
                        "subtotal": MONEY,
                        "discount": MONEY,
                        "tax": MONEY,
                        "total": MONEY,
                        "payment_id": {"type": ["string", "null"]},
                        "created_at": {"type": "string"},
                        "fulfilled_at": {"type": ["string", "null"]},
                        "items": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Customer": {
                    "type": "object",
                    "required": ["id", "tier"],
                    "properties": {
                        "id": ID,
                        "name": {"type": "string"},
                        "email": {"type": "string"},
                        "tier": {"enum": ["bronze", "silver", "gold"]},
                    },
                },
                "Product": {
                    "type": "object",
                    "required": ["sku", "unit_price"],
                    "properties": {
                        "sku": SKU,
                        "name": {"type": "string"},
                        "unit_price": {"type": "string"},
                        "currency": {"type": "string"},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string", "description": "One line: what is wrong, how to fix it."},
                        "order_id": ID,
                    },
                },
            }
        },
    }
