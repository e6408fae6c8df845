"""A JSON Schema validator no one here wrote: jsonschema (draft 2020-12), for the schemas in schemas/.

usage: check_schema.py SCHEMA [DOCUMENT ...]

Checks SCHEMA itself first (Draft202012Validator.check_schema) and prints "SCHEMA OK <schema>" or
"SCHEMA INVALID <schema>: <message>" (then stops). Then prints one line per document:
"OK <path>" or "INVALID <path>: <message>" (the most relevant error, at its JSON path).
Exit status 0 if the schema and every document are valid, 1 otherwise, 2 on a bad command line or
a missing jsonschema (make setup-python installs it).
"""
import json
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:
    print("ERROR jsonschema is not installed (make setup-python installs it)", flush=True)
    sys.exit(2)


def load(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def describe(error):
    location = "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    return f"{location}: {error.message}"


def main(arguments):
    if not arguments:
        print("usage: check_schema.py SCHEMA [DOCUMENT ...]", file=sys.stderr)
        return 2
    schema_path, documents = arguments[0], arguments[1:]
    try:
        schema = load(schema_path)
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as error:
        message = error.message if isinstance(error, jsonschema.exceptions.SchemaError) else str(error)
        print(f"SCHEMA INVALID {schema_path}: {' '.join(message.split())}", flush=True)
        return 1
    print(f"SCHEMA OK {schema_path}", flush=True)

    validator = Draft202012Validator(schema)
    all_valid = True
    for path in documents:
        try:
            error = jsonschema.exceptions.best_match(validator.iter_errors(load(path)))
            message = describe(error) if error is not None else None
        except (OSError, ValueError) as problem:
            message = f"not readable JSON: {problem}"
        if message is None:
            print(f"OK {path}", flush=True)
        else:
            all_valid = False
            print(f"INVALID {path}: {' '.join(message.split())}", flush=True)
    return 0 if all_valid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
