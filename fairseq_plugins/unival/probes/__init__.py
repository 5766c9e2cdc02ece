"""Probes of known failure modes: object hallucination (CHAIR ground truth, POPE yes/no
sets) and complex instructions (toy-world grounding/VQA suite scored per category).

Entry points for Python callers: :func:`unival.probes.ground_truth.load_ground_truth`,
:func:`unival.probes.pope.build_pope`, :func:`unival.probes.complex_suite.build_probe_suite`,
:func:`unival.probes.scoring.score_probe`; the shell commands are ``unival pope`` and
``unival probe`` (:mod:`unival.commands.probe`), and ``unival eval --metric chair|pope|probe``.
"""
