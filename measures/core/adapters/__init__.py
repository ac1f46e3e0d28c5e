"""Library adapters: the only code that touches statsmodels / arch / linearmodels result objects.

One module per library. Each adapter builds a new model per call, passes options by
keyword, converts library warnings into a ``status`` (see ``measures.core.status``)
and returns plain numpy arrays or tidy frames
(``term, estimate, std_error, t_stat, p_value, nobs, status``).
"""
