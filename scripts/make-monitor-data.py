#!/usr/bin/env python3
"""Writes Datasets/monitor-code-{train,test}.jsonl: short texts labelled "code" (source code in
Python, C, shell or SQL) or "prose" (English sentences, many of them *about* programming, so
that words like "function" or "variable" do not give the label away). A monitor flags code.
Deterministic (seeded): 240 training and 160 test lines, half of each label, no text shared.
"""
import json, os, random

random.seed(11)
names = ["count", "total", "items", "buffer", "result", "index", "value", "path", "user", "config", "offset", "size"]
funcs = ["parse", "load", "update", "render", "compute", "fetch", "merge", "check", "flush", "encode"]
tables = ["users", "orders", "graphs", "features", "events", "logs"]
code_templates = [
    lambda a, b, f: f"def {f}_{a}({b}):\n    return {b} + 1",
    lambda a, b, f: f"for {a} in range(len({b})):\n    print({b}[{a}])",
    lambda a, b, f: f"int {f}(int {a}) {{ return {a} * 2; }}",
    lambda a, b, f: f"if ({a} > {b}) {{\n    {a} = {b};\n}}",
    lambda a, b, f: f"SELECT {a}, {b} FROM {random.choice(tables)} WHERE {a} > 10;",
    lambda a, b, f: f"for f in *.txt; do {f} \"$f\" > /tmp/{a}.out; done",
    lambda a, b, f: f"{a} = [{b} * 2 for {b} in {a}s if {b}]",
    lambda a, b, f: f"while ({a} < {b}) {{ {a}++; }}",
    lambda a, b, f: f"import os\n{a} = os.environ.get(\"{b.upper()}\")",
    lambda a, b, f: f"static void {f}_{a}(char *{b}) {{ free({b}); }}",
    lambda a, b, f: f"class {f.title()}{a.title()}:\n    def __init__(self, {b}):\n        self.{b} = {b}",
    lambda a, b, f: f"export {a.upper()}=$(cat {b}.txt | wc -l)",
]
prose_templates = [
    lambda a, b, f: f"The programmer explained how the {f} function handles the {a}.",
    lambda a, b, f: f"My sister spent the afternoon reading about {a} and {b}.",
    lambda a, b, f: f"Our team meeting ran long because nobody agreed on the {b}.",
    lambda a, b, f: f"She said the new {a} policy would start next week.",
    lambda a, b, f: f"He wants to {f} the garden before the winter comes.",
    lambda a, b, f: f"The teacher asked the class to count every {b} in the story.",
    lambda a, b, f: f"After dinner we talked about the {a} of the old house.",
    lambda a, b, f: f"The report describes why the {b} grew so quickly last year.",
    lambda a, b, f: f"I forgot to {f} my notes, so the {a} was lost.",
    lambda a, b, f: f"Each variable in the survey measured a different {a}.",
    lambda a, b, f: f"The library will {f} its catalogue of {b}s this spring.",
    lambda a, b, f: f"Engineers often debate whether the {a} or the {b} matters more.",
]
def make(templates, label, n, seen):
    out = []
    while len(out) < n:
        a, b = random.sample(names, 2)
        text = random.choice(templates)(a, b, random.choice(funcs))
        if text not in seen:
            seen.add(text)
            out.append({"text": text, "label": label})
    return out
seen = set()
rows = make(code_templates, "code", 200, seen) + make(prose_templates, "prose", 200, seen)
code, prose = rows[:200], rows[200:]
train = code[:120] + prose[:120]
test = code[120:] + prose[120:]
random.shuffle(train); random.shuffle(test)
folder = os.path.join(os.path.dirname(__file__), "..", "Datasets")
for name, part in (("train", train), ("test", test)):
    with open(os.path.join(folder, f"monitor-code-{name}.jsonl"), "w") as f:
        for r in part:
            f.write(json.dumps(r) + "\n")
print(f"wrote {len(train)} training and {len(test)} test lines")
