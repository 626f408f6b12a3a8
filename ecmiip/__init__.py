"""ec-miip: an offline Chinese intellectual-property law assistant built on a small open model.

The folders of the repository map to subpackages: ``ecmiip.core`` (what every part shares),
``ecmiip.train``, ``ecmiip.quantize``, ``ecmiip.chat`` and ``ecmiip.bench``.
"""

__version__ = "0.1.0"
