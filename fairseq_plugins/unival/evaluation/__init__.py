"""``unival eval``'s library: load a checkpoint and its task (:mod:`.loading`), generate and
score captions (:mod:`.captions`) or a task's own records, add probe metrics
(:mod:`.probe_metrics`), write the results (:mod:`.results`); :func:`.run.evaluate` ties them
together. The command line is :mod:`unival.commands.eval`."""
