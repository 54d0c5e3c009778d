"""Compiling the teacher: reference sets from real histories, metrics, and `uue compile`.

`references` builds label-free reference cases (the pivot's thread is its reference cluster),
`metrics` scores predictions with one contract, `metric(example, pred, trace=None)`, and `compile`
runs DSPy's optimizers (BootstrapFewShot, random search, MIPROv2, GEPA) and saves the program.
"""
