"""The OpenAPI 3 document: paths from the views' docstrings (apispec), schemas from the pydantic models."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask

import ser
from serve.schemas import SCHEMAS


def _component_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in SCHEMAS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def build_spec(app: Flask) -> dict[str, Any]:
    """Generate the document for the routes registered on ``app``."""
    spec = APISpec(
        title="Speech emotion recognition API",
        version=ser.__version__,
        openapi_version="3.0.3",
        plugins=[FlaskPlugin()],
        info={"description": "Emotion of German speech (EmoDB classes), served from the DVC pipeline's model."},
    )
    for name, schema in _component_schemas().items():
        spec.components.schema(name, schema)
    spec.components.response(
        "Error",
        {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    with app.test_request_context():
        for endpoint, view in app.view_functions.items():
            if endpoint not in ("static", "info.openapi", "info.index"):
                spec.path(view=view, app=app)
    document = spec.to_dict()
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for response in operation.get("responses", {}).values():
                response.setdefault("description", "OK")
    return document
