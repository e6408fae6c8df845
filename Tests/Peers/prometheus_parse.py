#!/usr/bin/env python3
"""Parses a Prometheus text exposition file with prometheus_client's parser (a real one) and
prints one JSON line: {"families": [{"name", "type", "samples": [{"name", "labels", "value"}]}]}.
A parse error prints {"error": "..."} and exits 1."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    with open(sys.argv[1], encoding="utf-8") as source:
        text = source.read()
    try:
        families = []
        for family in text_string_to_metric_families(text):
            samples = []
            for sample in family.samples:
                value = sample.value
                # JSON has no NaN or infinities: name them.
                if math.isnan(value) or math.isinf(value):
                    value = repr(value)
                samples.append({"name": sample.name, "labels": dict(sample.labels), "value": value})
            families.append({"name": family.name, "type": family.type, "samples": samples})
    except Exception as error:  # the parser raises ValueError (and others) on malformed text
        print(json.dumps({"error": str(error)}))
        return 1
    print(json.dumps({"families": families}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
