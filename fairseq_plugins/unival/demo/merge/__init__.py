"""``make demo-merge``: base -> caption / VQA / grounding experts -> interpolation, task
arithmetic and TIES sweeps (:mod:`unival.demo.merge.pipeline`)."""
