#!/usr/bin/env python3
"""Parses graph files with circuit-tracer's own pydantic models (frontend/graph_models.py).

Run with the peer environment's Python (made by Benchmarks/peers/circuit-tracer-setup.sh):
    venv/bin/python Benchmarks/check-graph-file-with-circuit-tracer.py Graphs/texas.json [...]
Prints one line per file: node and link counts as circuit-tracer reads them, or the error.
"""
import json, sys
from circuit_tracer.frontend.graph_models import Model

status = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            model = Model(**json.load(f))
        kinds = {}
        for node in model.nodes:
            kinds[node.feature_type] = kinds.get(node.feature_type, 0) + 1
        print(f"{path}: parsed by circuit-tracer's graph model: {len(model.nodes)} nodes {kinds}, {len(model.links)} links, "
              f"{len(model.metadata.prompt_tokens)} prompt tokens")
    except Exception as error:  # report and keep going
        status = 1
        print(f"{path}: circuit-tracer's graph model rejects it: {str(error).splitlines()[0]}")
sys.exit(status)
