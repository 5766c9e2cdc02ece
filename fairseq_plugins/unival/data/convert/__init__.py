"""Public data sets -> the official TSV layouts (:mod:`unival.data.schemas`), and per-task TSV
validation.

``common`` (image fields, boxes, TSV writing, conversion reports), ``coco_caption``
(Karpathy split JSON), ``vqa`` (VQAv2 JSONs, soft scores, candidate answers), ``refcoco``
(``refs(unc).p`` + ``instances.json``), ``snli_ve`` (SNLI-VE JSONL), ``validate`` (row checks
of every task). The thin command lines are ``data_utils/make_*_tsv.py`` and
``data_utils/validate_tsv.py``.
"""
