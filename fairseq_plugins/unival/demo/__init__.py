"""``make demo`` and ``make demo-merge``: the toolkit end to end on the synthetic toy world.

:mod:`unival.demo.pipeline` runs the stages (:mod:`~unival.demo.multitask`,
:mod:`~unival.demo.media`, :mod:`~unival.demo.probes`, :mod:`~unival.demo.caption`) through
the repository's run scripts; :mod:`unival.demo.merge` is the model-merging demo. The command
lines are :mod:`unival.commands.demo` and :mod:`unival.commands.demo_merge`.
"""
