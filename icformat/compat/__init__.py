"""Other libraries' APIs over icformat's engine, for code that moves off them by changing an import:
``from icformat.compat import recordio`` for ``from mxnet import recordio``."""
