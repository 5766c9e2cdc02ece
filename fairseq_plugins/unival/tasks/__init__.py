"""UnIVAL fairseq tasks; importing this package registers them."""
from unival.tasks.base import UnivalTask, UnivalTaskConfig  # noqa: F401
from unival.tasks.caption import CaptionConfig, CaptionTask  # noqa: F401
