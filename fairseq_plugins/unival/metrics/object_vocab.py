"""Object vocabularies for hallucination metrics: phrases -> canonical object names.

A vocabulary maps every spelling a caption may use for an object (synonyms, plurals,
multi-word names) to one canonical name. :meth:`ObjectVocabulary.mentions` finds the objects
a text mentions by a greedy longest-match scan over its words, so "hot dog" is a hot dog
(not a dog), "teddy bears" a teddy bear (not a bear) and "baseball bat" a baseball bat.

Two vocabularies are provided:

* :func:`coco_vocabulary`: COCO's 80 detection categories (canonical = the category name of
  the instances JSON) with the synonyms of :data:`COCO_SYNONYMS`, written for this toolkit.
  Plurals are generated (:func:`plural`). Known limits: "orange" is also a colour and "bat"
  also an animal; words too ambiguous to name one category ("plant", "vehicle", "computer",
  "baseball", "glass") are deliberately absent.
* :func:`toy_vocabulary`: the toy world's shapes. Canonical names are "<colour> <shape>"
  (e.g. "red circle") and the bare shape ("circle"); a scene's ground truth holds both
  for every object (:func:`toy_object_names`), so "a red circle" is hallucinated when the
  scene has no red circle, and "a circle" only when it has no circle at all. Sizes are
  attributes, not objects ("a big red circle" mentions "red circle").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Tuple

# the 80 COCO detection categories (instances JSON "name"s) -> extra spellings (singular)
COCO_SYNONYMS: Dict[str, Tuple[str, ...]] = {
    "person": (
        "people",
        "man",
        "men",
        "woman",
        "women",
        "boy",
        "girl",
        "child",
        "children",
        "kid",
        "baby",
        "lady",
        "guy",
        "gentleman",
        "player",
        "skier",
        "surfer",
        "skateboarder",
        "snowboarder",
        "pedestrian",
        "teenager",
        "toddler",
        "adult",
        "cyclist",
        "biker",
    ),
    "bicycle": ("bike", "cycle"),
    "car": ("sedan", "taxi", "cab", "suv", "jeep", "minivan"),
    "motorcycle": ("motorbike", "motor bike", "moped", "motor cycle"),
    "airplane": ("plane", "jet", "aircraft", "airliner", "aeroplane", "jetliner"),
    "bus": ("minibus", "school bus", "double decker"),
    "train": ("locomotive", "subway", "tram", "streetcar"),
    "truck": ("pickup", "pickup truck", "lorry", "fire truck", "dump truck"),
    "boat": ("ship", "sailboat", "canoe", "kayak", "yacht", "ferry", "rowboat", "speedboat"),
    "traffic light": ("stop light", "stoplight", "traffic signal"),
    "fire hydrant": ("hydrant",),
    "stop sign": (),
    "parking meter": ("meter",),
    "bench": ("park bench",),
    "bird": (
        "pigeon",
        "seagull",
        "gull",
        "duck",
        "parrot",
        "sparrow",
        "goose",
        "swan",
        "owl",
        "eagle",
        "hawk",
        "crow",
    ),
    "cat": ("kitten", "kitty"),
    "dog": ("puppy", "pup", "terrier", "poodle", "labrador"),
    "horse": ("pony", "foal", "stallion", "mare"),
    "sheep": ("lamb", "ram", "ewe"),
    "cow": ("cattle", "bull", "calf", "ox", "steer"),
    "elephant": (),
    "bear": ("grizzly", "polar bear", "black bear", "brown bear"),
    "zebra": (),
    "giraffe": (),
    "backpack": ("back pack", "rucksack", "knapsack"),
    "umbrella": ("parasol",),
    "handbag": ("purse", "hand bag"),
    "tie": ("necktie", "bow tie"),
    "suitcase": ("suit case", "luggage"),
    "frisbee": ("flying disc",),
    "skis": ("ski",),
    "snowboard": ("snow board",),
    "sports ball": (
        "ball",
        "soccer ball",
        "football",
        "basketball",
        "tennis ball",
        "volleyball",
        "softball",
    ),
    "kite": (),
    "baseball bat": ("bat",),
    "baseball glove": ("glove", "mitt", "baseball mitt"),
    "skateboard": ("skate board",),
    "surfboard": ("surf board",),
    "tennis racket": ("racket", "racquet", "tennis racquet"),
    "bottle": (),
    "wine glass": ("wineglass",),
    "cup": ("mug", "teacup", "coffee cup"),
    "fork": (),
    "knife": (),
    "spoon": (),
    "bowl": (),
    "banana": (),
    "apple": (),
    "sandwich": ("burger", "hamburger", "sub"),
    "orange": (),
    "broccoli": (),
    "carrot": (),
    "hot dog": ("hotdog",),
    "pizza": (),
    "donut": ("doughnut",),
    "cake": ("cupcake", "cheesecake"),
    "chair": ("stool", "armchair"),
    "couch": ("sofa", "loveseat"),
    "potted plant": ("houseplant", "house plant", "flowerpot", "flower pot", "plant pot"),
    "bed": (),
    "dining table": ("table", "kitchen table", "coffee table"),
    "toilet": (),
    "tv": ("television", "tv set", "flat screen"),
    "laptop": ("laptop computer", "notebook computer"),
    "mouse": ("computer mouse",),
    "remote": ("remote control", "controller"),
    "keyboard": (),
    "cell phone": ("phone", "cellphone", "mobile phone", "smartphone", "smart phone"),
    "microwave": ("microwave oven",),
    "oven": ("stove",),
    "toaster": (),
    "sink": (),
    "refrigerator": ("fridge", "freezer"),
    "book": ("novel",),
    "clock": (),
    "vase": (),
    "scissors": (),
    "teddy bear": ("teddy", "teddybear", "stuffed animal"),
    "hair drier": ("hair dryer", "hairdryer", "blow dryer"),
    "toothbrush": ("tooth brush",),
}

# plurals that the suffix rules get wrong (spelling -> plural); words that are already plural
_IRREGULAR_PLURALS = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "person": "people",
    "goose": "geese",
    "mouse": "mice",
    "knife": "knives",
    "calf": "calves",
    "ox": "oxen",
    "foot": "feet",
    "sheep": "sheep",
    "cattle": "cattle",
    "people": "people",
    "men": "men",
    "women": "women",
    "children": "children",
    "skis": "skis",
    "scissors": "scissors",
    "broccoli": "broccoli",
    "luggage": "luggage",
    "sub": "subs",
    "bus": "buses",
    "minibus": "minibuses",
}
_WORD = re.compile(r"[a-z0-9]+")


def plural(phrase: str) -> str:
    """Plural of a phrase (its last word): "hot dog" -> "hot dogs", "bus" -> "buses",
    "puppy" -> "puppies", "knife" -> "knives", "sheep" -> "sheep"."""
    *head, last = phrase.split()
    if last in _IRREGULAR_PLURALS:
        word = _IRREGULAR_PLURALS[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    elif len(last) > 1 and last.endswith("y") and last[-2] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return " ".join(head + [word])


def words(text: str) -> List[str]:
    """Lowercase alphanumeric words of ``text`` (punctuation and hyphens split words)."""
    return _WORD.findall(text.lower())


@dataclass
class ObjectVocabulary:
    """``phrases``: word tuple -> canonical object name (singular and plural spellings);
    ``implies``: canonical name -> the more general names it entails ("red circle" -> "circle")."""

    name: str
    phrases: Dict[Tuple[str, ...], str] = field(default_factory=dict)
    implies: Dict[str, set] = field(default_factory=dict)

    def closure(self, names: Iterable[str]) -> set:
        """``names`` with everything they imply."""
        out = set(names)
        for n in list(out):
            out |= self.implies.get(n, set())
        return out

    @classmethod
    def from_synonyms(cls, name: str, synonyms: Mapping[str, Iterable[str]]) -> "ObjectVocabulary":
        """Each canonical name and its synonyms, with their plurals; a spelling claimed by
        two objects is an error."""
        vocab = cls(name)
        for canonical, extra in synonyms.items():
            for spelling in (canonical, *extra):
                for form in {spelling, plural(spelling)}:
                    key = tuple(words(form))
                    if vocab.phrases.get(key, canonical) != canonical:
                        raise ValueError(
                            f"{name}: {form!r} names both {vocab.phrases[key]!r} and {canonical!r}"
                        )
                    vocab.phrases[key] = canonical
        return vocab

    @property
    def objects(self) -> List[str]:
        """Canonical names, sorted."""
        return sorted(set(self.phrases.values()))

    @property
    def max_words(self) -> int:
        return max((len(k) for k in self.phrases), default=0)

    def mentions(self, text: str) -> List[str]:
        """Canonical objects mentioned in ``text``, in order, with repeats (longest match first)."""
        tokens, found, i = words(text), [], 0
        while i < len(tokens):
            for n in range(min(self.max_words, len(tokens) - i), 0, -1):
                canonical = self.phrases.get(tuple(tokens[i : i + n]))
                if canonical is not None:
                    found.append(canonical)
                    i += n
                    break
            else:
                i += 1
        return found


def coco_vocabulary() -> ObjectVocabulary:
    """COCO's 80 categories with :data:`COCO_SYNONYMS` (see the module docstring)."""
    return ObjectVocabulary.from_synonyms("coco", COCO_SYNONYMS)
