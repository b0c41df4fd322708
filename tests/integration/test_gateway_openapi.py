"""docs/openapi.yaml stays true to the gateway: it parses as OpenAPI 3, every $ref
resolves, every REST route of the daemon is described, and real answers of a running
gateway (lists, detail, stats, repos, correction, errors) satisfy the documented
schemas (types, required fields, enums, nullability)."""
import re

import yaml

import daitest
from test_gateway_support import (enriched, ensure_topic, gateway, get, post, produce_events)

SPEC = daitest.REPO / "docs" / "openapi.yaml"


def load():
    spec = yaml.safe_load(SPEC.read_text())
    assert spec["openapi"].startswith("3.")
    return spec


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def check(spec, schema, value, where="$"):
    """A small JSON Schema subset: $ref, allOf, type, nullable, required, properties,
    additionalProperties (false / schema), items, enum, minimum/maximum."""
    schema = resolve(spec, schema)
    if value is None:
        assert schema.get("nullable"), f"{where}: null but not nullable"
        return
    for sub in schema.get("allOf", []):
        check(spec, sub, value, where)
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool,
             "integer": int, "number": (int, float)}
    if t:
        assert isinstance(value, types[t]) and not (t in ("integer", "number")
                                                    and isinstance(value, bool)), \
            f"{where}: {value!r} is not {t}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "minimum" in schema:
        assert value >= schema["minimum"], where
    if "maximum" in schema:
        assert value <= schema["maximum"], where
    if isinstance(value, dict):
        for k in schema.get("required", []):
            assert k in value, f"{where}: missing {k}"
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                check(spec, props[k], v, f"{where}.{k}")
            elif schema.get("additionalProperties") is False:
                raise AssertionError(f"{where}: unexpected {k}")
            elif isinstance(schema.get("additionalProperties"), dict):
                check(spec, schema["additionalProperties"], v, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            check(spec, schema["items"], v, f"{where}[{i}]")


def test_openapi_parses_and_every_ref_resolves():
    spec = load()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(spec, node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(spec)
    # Every route the router knows is documented (rest.c is the source of truth).
    router = (daitest.REPO / "gateway" / "rest.c").read_text()
    for path in re.findall(r'"(/api/[a-z]+)"', router):
        assert path in spec["paths"], path
    assert "/api/issues/{owner}/{repo}/{number}/correction" in spec["paths"]
    for p, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            for status, resp in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), (p, status)
                resolve(spec, resp)


def test_live_answers_match_the_documented_schemas(broker, topics):
    spec = load()
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    ensure_topic(broker, t)
    produce_events(broker.bootstrap, t, [
        enriched(number=1, assignee=None), enriched(number=2, kind="pull_request"),
        enriched(number=3, body="x" * 10000)])
    gw = gateway(broker, topics).start()
    try:
        def ok(path, op, status="200", method="get"):
            st, _, body = get(gw, path)
            assert st == int(status), (path, body)
            schema = spec["paths"][op][method]["responses"][status]
            check(spec, resolve(spec, schema)["content"]["application/json"]["schema"], body)
            return body

        page = ok("/api/issues?limit=2", "/api/issues")
        assert page["next_cursor"]
        ok(f"/api/issues?cursor={page['next_cursor']}", "/api/issues")
        ok("/api/issues/acme/widgets/1", "/api/issues/{owner}/{repo}/{number}")
        ok("/api/issues/acme/widgets/404", "/api/issues/{owner}/{repo}/{number}", "404")
        ok("/api/issues?limit=0", "/api/issues", "400")
        ok("/api/stats", "/api/stats")
        ok("/api/repos", "/api/repos")
        big = ok("/api/issues/acme/widgets/3", "/api/issues/{owner}/{repo}/{number}")
        assert big["latest"]["issue"]["body_truncated"] is True

        op = spec["paths"]["/api/issues/{owner}/{repo}/{number}/correction"]["post"]
        body = {"category": "question", "tags": ["ux"], "note": None}
        check(spec, op["requestBody"]["content"]["application/json"]["schema"], body)
        st, _, ans = post(gw, "/api/issues/acme/widgets/1/correction", body)
        assert st == 202
        check(spec, op["responses"]["202"]["content"]["application/json"]["schema"], ans)
        st, _, ans = post(gw, "/api/issues/acme/widgets/1/correction", {"category": "nope"})
        assert st == 400
        check(spec, resolve(spec, op["responses"]["400"])["content"]["application/json"]["schema"],
              ans)
        daitest.wait_for(lambda: get(gw, "/api/issues/acme/widgets/1")[2]["human_override"],
                         what="correction applied")
        ok("/api/issues/acme/widgets/1", "/api/issues/{owner}/{repo}/{number}")
    finally:
        assert gw.stop() == 0
