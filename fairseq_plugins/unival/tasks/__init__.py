"""UnIVAL fairseq tasks; importing this package registers them."""

from unival.tasks.audio_caption import AudioCaptionConfig, AudioCaptionTask  # noqa: F401
from unival.tasks.base import UnivalTask  # noqa: F401
from unival.tasks.caption import CaptionConfig, CaptionTask  # noqa: F401
from unival.tasks.config import UnivalTaskConfig  # noqa: F401
from unival.tasks.refcoco import RefcocoConfig, RefcocoTask  # noqa: F401
from unival.tasks.snli_ve import SnliVeConfig, SnliVeTask  # noqa: F401
from unival.tasks.unify_task import UnifyTask, UnifyTaskConfig  # noqa: F401
from unival.tasks.video_caption import VideoCaptionConfig, VideoCaptionTask  # noqa: F401
from unival.tasks.video_vqa_gen import VideoVqaGenConfig, VideoVqaGenTask  # noqa: F401
from unival.tasks.vqa_gen import VqaGenConfig, VqaGenTask  # noqa: F401
