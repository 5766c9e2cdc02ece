"""Ground-truth objects per image from a COCO instances JSON or a toy-world scenes JSON.

* COCO (``instances_val2014.json`` layout: ``images``, ``annotations``, ``categories``): an
  image's objects are the category names of its annotations (crowd boxes included); every
  image of ``images`` is listed, also those without annotations (empty set). Vocabulary:
  :func:`unival.metrics.object_vocab.coco_vocabulary`; the category names must be COCO's.
* toy world (``scenes_{split}.json`` written by ``unival toy-world``): exact objects, as
  "<colour> <shape>" and "<shape>" names (:func:`toy_object_names`); vocabulary
  :func:`toy_vocabulary`. Images are re-rendered from the scenes.

Image ids that are digit strings become ints (as ``unival eval`` writes them).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, Hashable, Iterable, Mapping, Optional, Sequence, Tuple

from unival.data.convert.common import image_field
from unival.data.io.image import encode_image_base64
from unival.metrics.object_vocab import ObjectVocabulary, coco_vocabulary
from unival.toy_world.render import render_scene
from unival.toy_world.scene import COLORS, SHAPES, Scene


@dataclass
class GroundTruth:
    """``objects``: image id -> canonical names; ``files``: image id -> file name (COCO);
    ``scenes``: image id -> toy Scene (toy)."""

    kind: str  # "coco" or "toy"
    vocabulary: ObjectVocabulary
    objects: Dict[Hashable, set] = field(default_factory=dict)
    files: Dict[Hashable, str] = field(default_factory=dict)
    scenes: Dict[Hashable, object] = field(default_factory=dict)

    @property
    def probe_objects(self) -> list:
        """Objects a POPE probe may ask about: COCO's categories, or the toy "<colour> <shape>"s."""
        names = self.vocabulary.objects
        return [n for n in names if " " in n] if self.kind == "toy" else names

    def image_b64(self, image_id: Hashable, image_dir: Optional[str] = None) -> str:
        """The image's TSV field: the rendered toy scene, or the COCO file under ``image_dir``."""
        if self.kind == "toy":
            return encode_image_base64(render_scene(self.scenes[image_id]))

        if image_dir is None:
            raise ValueError("COCO ground truth needs --image-dir to find the images")
        return image_field(os.path.join(image_dir, self.files[image_id]))


def json_id(value) -> Hashable:
    text = str(value)
    return int(text) if text.isdigit() else text


def coco_ground_truth(payload: dict, path: str = "instances JSON") -> GroundTruth:
    vocabulary = coco_vocabulary()
    known = set(vocabulary.objects)
    names = {}
    for category in payload.get("categories", []):
        if category["name"] not in known:
            raise ValueError(
                f"{path}: category {category['name']!r} (id {category['id']}) "
                "is not a COCO category"
            )
        names[category["id"]] = category["name"]
    gt = GroundTruth("coco", vocabulary)
    for image in payload["images"]:
        gt.objects[json_id(image["id"])] = set()
        gt.files[json_id(image["id"])] = image.get("file_name", "")
    for k, annotation in enumerate(payload.get("annotations", [])):
        image_id = json_id(annotation["image_id"])
        if image_id not in gt.objects:
            raise ValueError(f"{path}: annotation {k} names image {image_id}, absent from 'images'")
        if annotation["category_id"] not in names:
            raise ValueError(
                f"{path}: annotation {k} has unknown category_id {annotation['category_id']}"
            )
        gt.objects[image_id].add(names[annotation["category_id"]])
    return gt


def toy_ground_truth(payload: dict) -> GroundTruth:

    attributes = payload.get("attributes", {})
    gt = GroundTruth(
        "toy", toy_vocabulary(attributes.get("shapes"), list(attributes.get("colors", {})) or None)
    )
    for data in payload["scenes"]:
        scene = Scene.from_dict(data)
        image_id = json_id(data.get("image_id", scene.scene_id))
        gt.scenes[image_id] = scene
        gt.objects[image_id] = toy_object_names(scene.objects)
    return gt


def read_json(path: str | os.PathLike):
    """The JSON value in ``path``; ValueError naming the file when it is not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{os.fspath(path)}: not a JSON file ({error})") from None


def load_ground_truth(path: str | os.PathLike) -> GroundTruth:
    """A COCO instances JSON or a toy-world scenes JSON (told apart by their keys)."""
    path = os.fspath(path)
    payload = read_json(path)
    if isinstance(payload, dict) and "scenes" in payload:
        return toy_ground_truth(payload)
    if isinstance(payload, dict) and "images" in payload and "categories" in payload:
        return coco_ground_truth(payload, path)
    raise ValueError(
        f"{path}: neither a COCO instances JSON (images/annotations/categories) "
        "nor a toy-world scenes JSON (scenes)"
    )


def toy_vocabulary(
    shapes: Sequence[str] | None = None, colors: Sequence[str] | None = None
) -> ObjectVocabulary:
    """ "<colour> <shape>" and "<shape>" for the toy world's (or the given) shapes and colours."""
    shapes = list(shapes or SHAPES)
    colors = list(colors or COLORS)
    synonyms: Dict[str, Tuple[str, ...]] = {s: () for s in shapes}
    synonyms.update({f"{c} {s}": () for c in colors for s in shapes})
    vocab = ObjectVocabulary.from_synonyms("toy", synonyms)
    vocab.implies = {f"{c} {s}": {s} for c in colors for s in shapes}
    return vocab


def toy_object_names(objects: Iterable) -> set:
    """Ground-truth names of toy objects (anything with ``.color`` and ``.shape`` or such
    dict keys): "<colour> <shape>" and "<shape>" for each."""
    names = set()
    for obj in objects:
        color = obj["color"] if isinstance(obj, Mapping) else obj.color
        shape = obj["shape"] if isinstance(obj, Mapping) else obj.shape
        names.update({f"{color} {shape}", shape})
    return names
