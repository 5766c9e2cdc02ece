"""``unival serve``: a local Gradio page and a JSON HTTP API for every task, with batching.

* :mod:`unival.serving.tasks`     the served tasks (tab, inputs, API route) in one table
* :mod:`unival.serving.models`    ``--model TASK=PATH`` and the ``make demo`` experts -> predictors
* :mod:`unival.serving.batching`  one queue per task: concurrent requests -> one
  ``iter_predict`` call
* :mod:`unival.serving.service`   a request -> its answer (result, settings, latency, batch size)
* :mod:`unival.serving.app`       the Gradio Blocks page (one tab per task)
* :mod:`unival.serving.api`       ``POST /api/<task>`` JSON routes beside the page
* :mod:`unival.serving.examples`  the page's one-click toy-world examples
* :mod:`unival.serving.server`    mount both on one FastAPI app and run it with uvicorn
"""
