"""Load UnIVAL checkpoints (released ``.pt`` files or exported folders) and predict.

from unival.hub import load
model = load("unival_caption_stage_1.pt", dict_path="bart/dict.txt")
model.caption(["cat.jpg"])                       # ["a cat sitting on a couch"]
model.vqa("cat.jpg", "what colour is the cat?")  # "black"
model.ground(["cat.jpg"], ["the cat"])           # [[x0, y0, x1, y1]] in pixels
video = load("unival_video_caption_stage_1.pt", dict_path="bart/dict.txt")
video.caption_video(["clip.mp4", clip_bytes])    # paths or the files' bytes
"""

from unival.hub.checkpoint import CheckpointMismatchError  # noqa: F401
from unival.hub.export import export_model, read_exported  # noqa: F401
from unival.hub.generation import GENERATION_DEFAULTS, generation_settings  # noqa: F401
from unival.hub.load import load  # noqa: F401
from unival.hub.predictor import PredictionError, UnivalPredictor  # noqa: F401

__all__ = [
    "CheckpointMismatchError",
    "GENERATION_DEFAULTS",
    "PredictionError",
    "UnivalPredictor",
    "export_model",
    "generation_settings",
    "load",
    "read_exported",
]
