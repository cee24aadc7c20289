#!/usr/bin/env python3
"""Writes Datasets/city-person.jsonl: sentences naming a city or a person, labelled by which.

The name sits inside a template that fits both kinds ("I have always admired X."), so no
template word gives the label away; the probe must read what the model knows about the name.
Deterministic (seeded); 520 lines, 260 of each label.
"""
import json, os, random

cities = """Paris London Tokyo Berlin Madrid Rome Vienna Prague Lisbon Dublin Oslo Stockholm Helsinki Warsaw Budapest
Athens Cairo Nairobi Lagos Mumbai Delhi Bangkok Seoul Beijing Shanghai Sydney Melbourne Toronto Chicago Boston Seattle
Denver Houston Dallas Austin Miami Atlanta Phoenix Montreal Vancouver Istanbul Moscow Kyiv Zurich Geneva Brussels
Amsterdam Copenhagen Barcelona Venice Florence Naples Munich Hamburg Edinburgh Manchester Liverpool Marseille Lyon
Havana Lima Bogota Santiago Caracas Quito Karachi Lahore Jakarta Manila Hanoi""".split()
people = """Einstein Newton Darwin Shakespeare Mozart Beethoven Picasso Rembrandt Napoleon Lincoln Gandhi Churchill Tolstoy
Dickens Plato Aristotle Socrates Galileo Copernicus Kepler Tesla Edison Curie Freud Marx Nietzsche Kant Hegel Dante
Homer Chaucer Milton Goethe Schiller Bach Chopin Verdi Wagner Brahms Dostoevsky Chekhov Voltaire Rousseau Descartes
Pascal Leibniz Euler Gauss Riemann Turing Hemingway Faulkner Orwell Tolkien Austen Kafka Borges Neruda Cervantes
Michelangelo Raphael Caravaggio Vermeer Monet Renoir Cezanne Gauguin Matisse Dali""".split()
templates = [
    "I have always admired {x}.",
    "Yesterday I read a long article about {x}.",
    "My grandmother often talked about {x}.",
    "The documentary about {x} was surprisingly moving.",
    "Few things fascinate me as much as {x}.",
    "She wrote her thesis on {x}.",
    "Everyone in the class had an opinion about {x}.",
    "The museum shop sold postcards of {x}.",
    "We spent the whole evening discussing {x}.",
    "He keeps a framed picture of {x} on his desk.",
    "There is a new book about {x} in the library.",
    "Nobody understood {x} quite like my old teacher.",
    "The lecture tonight is about {x}.",
]
random.seed(7)
rows = []
for label, names in (("city", cities), ("person", people)):
    pairs = [(n, t) for n in names for t in templates]
    random.shuffle(pairs)
    rows += [{"text": t.format(x=n), "label": label} for n, t in pairs[:260]]
random.shuffle(rows)
out = os.path.join(os.path.dirname(__file__), "..", "Datasets", "city-person.jsonl")
with open(out, "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
print(f"wrote {len(rows)} lines to {os.path.normpath(out)}")
