"""edgedigits: train an MNIST CNN, shrink it to int8, ship it to a Raspberry Pi.

Importing this package is cheap: TensorFlow is imported only inside the
functions that need it (see :mod:`edgedigits._tf`).
"""

__version__ = "0.1.0"
