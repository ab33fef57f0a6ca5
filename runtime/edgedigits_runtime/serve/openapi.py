"""The API's OpenAPI 3.1 description, kept by hand next to the routes (served at ``/v1/openapi.json``).

The tests check that every route of the app is described here and every path described here is a
route, and that the fields listed for the answers are the fields the server sends.
"""

from __future__ import annotations

import dataclasses

__all__ = ["PREDICT_FIELDS", "READ_FIELDS", "spec"]

PREDICT_FIELDS = ("path", "label", "not_a_digit", "confidence", "top_k", "score", "threshold")  # predict --json
READ_FIELDS = ("path", "number", "confidence", "digits", "signs")  # read --json


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_IMAGE_BODY = {
    "required": True,
    "description": "The image: its raw bytes with an image Content-Type (or application/octet-stream), "
                   "or a multipart/form-data upload with one file field (any name, e.g. `image`).",
    "content": {
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "image": {"type": "string", "format": "binary"}}}},
    },
}

_IMAGE_ERRORS = {
    "400": _error_response("Empty body, broken multipart upload, no file in it, a bad, unknown or repeated parameter, or "
                            "bytes that are not HTTP/1.1."),
    "401": _error_response("Missing or wrong bearer token (only when the server has a token)."),
    "408": _error_response("The headers or the body did not arrive within the time limit."),
    "413": _error_response("Body larger than the server's limit, or an image whose decoding needs more memory than "
                           "the server takes for images at once."),
    "415": _error_response("Content-Type is not an image, application/octet-stream or multipart/form-data, or the body "
                            "has a Content-Encoding (gzip)."),
    "422": _error_response("Not an image, truncated, over the pixel limit (decompression bomb), or no digit found."),
    "431": _error_response("Request line or headers over 16 KB."),
    "503": _error_response("Too many requests in progress, connections open, or uploads for the memory budget; retry "
                           "after the Retry-After header's seconds."),
    "504": _error_response("Processing took longer than the time limit."),
}


def spec(version: str, limits=None) -> dict:
    """The OpenAPI document (a dict, JSON-ready).

    Args:
      version: the runtime's version (the API's ``info.version``).
      limits: the server's :class:`~edgedigits_runtime.serve.Limits`, quoted in the description.

    Returns:
      An OpenAPI 3.1 document.
    """
    limit_text = ""
    if limits is not None:
        limit_text = " This server's limits: " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(limits).items()) + "."
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "edgedigits-runtime API",
            "version": version,
            "description": "Classify handwritten digits and read numbers from photos, on the device. Every answer and "
                           "every error is JSON; errors are {\"error\": message, \"status\": code}. With a token, every "
                           "/v1/ request needs `Authorization: Bearer <token>`." + limit_text,
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "status"], "properties": {
                    "error": {"type": "string", "description": "What was wrong and what to do."},
                    "status": {"type": "integer"}}},
                "Prediction": {"type": "object", "required": list(PREDICT_FIELDS), "properties": {
                    "path": {"type": "string", "description": "The uploaded file's name, or `upload` for a raw body."},
                    "label": {"type": ["integer", "null"], "description": "The digit 0-9; null when it is not a digit."},
                    "not_a_digit": {"type": "boolean", "description": "The model's reject rule (or `threshold`) "
                                    "refused the image."},
                    "confidence": {"type": ["number", "null"], "description": "Probability of the label."},
                    "top_k": {"type": "array", "description": "[[label, probability], ...], best first.",
                              "items": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "number"}]}},
                    "score": {"type": ["number", "null"], "description": "What the reject rule compared (higher = "
                              "more digit-like)."},
                    "threshold": {"type": ["number", "null"], "description": "What `score` was compared with "
                                  "(null: no rule, nothing rejected)."},
                    "share": {"type": "number", "description": "Only when the rule has `min_share`: the top digit's "
                              "share of the digit probabilities."},
                    "min_share": {"type": "number", "description": "Only when the rule has it: below this `share` the "
                                  "image is not a digit either (the model splits it between two digits)."}},
                    "additionalProperties": True},
                "Reading": {"type": "object", "description": "The fields of `edgedigits-rt read --json`.",
                            "required": list(READ_FIELDS), "properties": {
                                "path": {"type": "string", "description": "The uploaded file's name, or `upload`."},
                                "number": {"type": "string", "description": "The digits left to right, ? for a "
                                           "position that is not a digit, a leading - and . between digits where "
                                           "`signs` has them, empty when none was found."},
                                "confidence": {"type": "number", "description": "Product of the positions' "
                                               "confidences."},
                                "digits": {"type": "array", "items": {"type": "object", "properties": {
                                    "box": {"type": "array", "items": {"type": "integer"},
                                            "description": "x, y, w, h in the photo's pixels."},
                                    "label": {"type": ["integer", "null"]}, "confidence": {"type": "number"},
                                    "not_a_digit": {"type": "boolean"}}}},
                                "signs": {"type": "array", "description": "A minus before the number, decimal "
                                          "points between its digits (found by shape and place).",
                                          "items": {"type": "object", "properties": {
                                              "box": {"type": "array", "items": {"type": "integer"}},
                                              "symbol": {"type": "string", "enum": ["-", "."]},
                                              "index": {"type": "integer", "description": "Positions before it."}}}}},
                            "additionalProperties": True},
            },
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/v1/predict": {"post": {
                "summary": "Classify one digit image, or say it is not a digit (the fields of "
                           "`edgedigits-rt predict --json`).",
                "parameters": [{"name": "top_k", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3}},
                               {"name": "threshold", "in": "query", "required": False,
                                "description": "'Not a digit' below this top-digit probability (default: the "
                                               "model's calibrated rule, if it has one).",
                                "schema": {"type": "number", "minimum": 0, "maximum": 1}}],
                "requestBody": _IMAGE_BODY,
                "responses": {"200": {"description": "The digit.", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Prediction"}}}}, **_IMAGE_ERRORS},
            }},
            "/v1/read": {"post": {
                "summary": "Read a number (several digits) from a photo (the fields of `edgedigits-rt read --json`).",
                "parameters": [
                    {"name": "digits", "in": "query", "required": False, "description": "The number's length, when known.",
                     "schema": {"type": "integer", "minimum": 1}},
                    {"name": "roi", "in": "query", "required": False, "description": "Read only this region: x,y,w,h "
                     "in the photo's pixels.", "schema": {"type": "string", "pattern": "^\\d+,\\d+,\\d+,\\d+$"}},
                    {"name": "threshold", "in": "query", "required": False, "description": "'Not a digit' (shown as ?) "
                     "below this top-digit probability.", "schema": {"type": "number", "minimum": 0, "maximum": 1}}],
                "requestBody": _IMAGE_BODY,
                "responses": {"200": {"description": "The number.", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Reading"}}}}, **_IMAGE_ERRORS},
            }},
            "/v1/watch": {"get": {
                "summary": "With `edgedigits-rt serve --watch SOURCE`: the number the watched camera, video or stream "
                           "shows: `stable` (the event that made the current stable reading), `latest` (the last frame "
                           "read), each with the fields of `edgedigits-rt watch --json` (event, frame, time, at, number, "
                           "confidence, digits, signs, note) or null; `summary` (its end line's fields); `running`; "
                           "`reopening` (the source's frames stopped and it is being opened again); `error` (why it "
                           "ended early) or null; `source`.",
                "responses": {"200": {"description": "The watch.", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["source", "running", "reopening", "stable", "latest", "summary", "error"]}}}},
                              "401": _IMAGE_ERRORS["401"],
                              "404": _error_response("The server was started without --watch.")},
            }},
            "/v1/health": {"get": {
                "summary": "Liveness, the model's SHA-256, requests in progress and served, the limits, and the number "
                           "reader's facts (`reader`: model, sha256, size, verified).",
                "responses": {"200": {"description": "Up.", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "401": _IMAGE_ERRORS["401"]},
            }},
            "/v1/model": {"get": {
                "summary": "The model: format, backend, input/output quantization, SHA-256, verified, its manifest; "
                           "`reader`: the number reader /v1/read uses (model, sha256, size, verified, backend).",
                "responses": {"200": {"description": "The model.", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "401": _IMAGE_ERRORS["401"]},
            }},
            "/v1/openapi.json": {"get": {
                "summary": "This document.",
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "401": _IMAGE_ERRORS["401"]},
            }},
        },
    }
