"""UnIVAL fairseq tasks; importing this package registers them."""
from unival.tasks.base import UnivalTask, UnivalTaskConfig  # noqa: F401
from unival.tasks.caption import CaptionConfig, CaptionTask  # noqa: F401
from unival.tasks.refcoco import RefcocoConfig, RefcocoTask  # noqa: F401
from unival.tasks.vqa_gen import VqaGenConfig, VqaGenTask  # noqa: F401
from unival.tasks.snli_ve import SnliVeConfig, SnliVeTask  # noqa: F401
from unival.tasks.unify_task import UnifyTask, UnifyTaskConfig  # noqa: F401
