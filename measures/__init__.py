"""Market-data and balance-sheet systemic-risk measures.

Pure science: no file I/O, no DVC, no ``params.yaml``. Every estimator is a
pure function or a small class whose ``fit()`` returns a results object.
"""
