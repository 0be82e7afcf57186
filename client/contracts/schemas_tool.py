"""Generate the JSON Schema of every message and check changes for backward compatibility.

python -m contracts.schemas_tool write            # refuses a breaking change
python -m contracts.schemas_tool write --allow-breaking
python -m contracts.schemas_tool check            # exit 1 when stale or breaking
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, create_model

from contracts.envelope import CloudEvent
from contracts.topics import all_message_types

SCHEMA_DIR = Path(__file__).parent / "schemas"
Schema = dict[str, Any]


def envelope_model(data_model: type[BaseModel]) -> type[BaseModel]:
    """The full message: the envelope with `type` fixed and `data` typed."""
    name = data_model.__name__
    model: type[BaseModel] = create_model(
        name,
        __base__=CloudEvent[data_model],  # type: ignore[valid-type]
        type=(Literal[name], ...),  # type: ignore[arg-type]
    )
    return model


def generate() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {}
    for name, data_model in sorted(all_message_types().items()):
        schema = envelope_model(data_model).model_json_schema()
        schema["title"] = name
        schemas[name] = _data_named_apart(schema, name)
    return schemas


def _data_named_apart(schema: Schema, name: str) -> Schema:
    """The `data` definition as `<Type>Data`: sharing the message's title, code generators
    (asyncapi generate models) wrote one class over the other."""
    defs = schema.get("$defs", {})
    if name not in defs:
        return schema
    text = json.dumps(schema).replace(f'"#/$defs/{name}"', f'"#/$defs/{name}Data"')
    renamed: Schema = json.loads(text)
    data = renamed["$defs"].pop(name)
    data["title"] = f"{name}Data"
    renamed["$defs"][f"{name}Data"] = data
    return renamed


def load_committed(directory: Path = SCHEMA_DIR) -> dict[str, Schema]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def dump(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


# ---- backward compatibility ---------------------------------------------------------------


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root.get("$defs", {})[name]
    return node


def _type_signature(node: Schema, root: Schema) -> frozenset[str]:
    node = _resolve(node, root)
    if "anyOf" in node:
        return frozenset().union(*(_type_signature(n, root) for n in node["anyOf"]))
    if "const" in node:
        return frozenset({type(node["const"]).__name__})
    if "enum" in node:
        return frozenset({"enum"})
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    fmt = node.get("format")
    return frozenset(f"{k}:{fmt}" if fmt else k for k in kinds)


def _variants(node: Schema, root: Schema, kind: str) -> list[Schema]:
    node = _resolve(node, root)
    options = node.get("anyOf", [node])
    found = [_resolve(o, root) for o in options]
    return [o for o in found if o.get("type") == kind or (kind == "object" and "properties" in o)]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What makes `new` unreadable for a consumer written against `old`."""
    problems: list[str] = []

    def walk(old_node: Schema, new_node: Schema, path: str) -> None:
        old_sig, new_sig = _type_signature(old_node, old), _type_signature(new_node, new)
        if old_sig != new_sig:
            problems.append(f"{path}: type changed from {sorted(old_sig)} to {sorted(new_sig)}")
            return
        for old_obj, new_obj in zip(
            _variants(old_node, old, "object"), _variants(new_node, new, "object"), strict=False
        ):
            old_props, new_props = old_obj.get("properties", {}), new_obj.get("properties", {})
            old_required, new_required = (
                set(old_obj.get("required", [])),
                set(new_obj.get("required", [])),
            )
            for prop, old_child in old_props.items():
                if prop not in new_props:
                    problems.append(f"{path}.{prop}: removed or renamed")
                    continue
                if prop in new_required and prop not in old_required:
                    problems.append(f"{path}.{prop}: optional field made required")
                walk(old_child, new_props[prop], f"{path}.{prop}")
            for prop in new_required - set(old_props):
                problems.append(f"{path}.{prop}: new field is required")
        for old_arr, new_arr in zip(
            _variants(old_node, old, "array"), _variants(new_node, new, "array"), strict=False
        ):
            if "items" in old_arr and "items" in new_arr:
                walk(old_arr["items"], new_arr["items"], f"{path}[]")

    walk(old, new, old.get("title", "$"))
    return problems


def check(committed: dict[str, Schema], current: dict[str, Schema]) -> tuple[list[str], list[str]]:
    """(stale, breaking): schemas that differ from the models; changes that break consumers."""
    stale = sorted(
        name for name in set(committed) | set(current) if committed.get(name) != current.get(name)
    )
    breaking = [
        f"{name}: message removed" if name not in current else problem
        for name in sorted(committed)
        for problem in (
            [None] if name not in current else breaking_changes(committed[name], current[name])
        )
        if problem is not None or name not in current
    ]
    return stale, [b for b in breaking if b]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("--allow-breaking", action="store_true")
    args = parser.parse_args(argv)
    current, committed = generate(), load_committed()
    stale, breaking = check(committed, current)
    for problem in breaking:
        print(f"breaking change: {problem}", file=sys.stderr)
    if args.command == "check":
        for name in stale:
            print(
                f"stale schema: {name} (run: python -m contracts.schemas_tool write)",
                file=sys.stderr,
            )
        return 1 if stale or breaking else 0
    if breaking and not args.allow_breaking:
        print("refusing to write: the change is not backward compatible", file=sys.stderr)
        return 1
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, schema in current.items():
        (SCHEMA_DIR / f"{name}.json").write_text(dump(schema))
    for name in set(committed) - set(current):
        (SCHEMA_DIR / f"{name}.json").unlink()
    print(f"wrote {len(current)} schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
