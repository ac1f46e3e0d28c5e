"""One module per DVC stage; each runs as ``python -m pipeline.stages.<name>``.

A stage reads only the params groups it declares in ``dvc.yaml``, reads
artifacts, calls the pure science in ``measures`` / ``panel`` and writes
artifacts (``pipeline.io``) and its data-quality records.
"""
