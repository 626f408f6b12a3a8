"""ec-miip: an offline Chinese intellectual-property law assistant built on a small open model.

The folders of the repository map to subpackages: ``ecmiip.core`` (what every part shares),
``ecmiip.train``, ``ecmiip.quantize``, ``ecmiip.chat``, ``ecmiip.bench`` and ``ecmiip.pipeline``
(``ecmiip build``).
"""

import logging


class _NoHubKernelNotice(logging.Filter):
    """bitsandbytes on AVX512-BF16 CPUs asks the ``kernels`` package to fetch a 4-bit kernel from the
    Hugging Face hub and warns when it cannot. ec-miip never installs ``kernels`` (no downloads at run
    time), so the built-in CPU kernel is used and the warning would only alarm users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "gemm_4bit_forward from kernels-community" not in record.getMessage()


logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_NoHubKernelNotice())

__version__ = "0.1.0"
