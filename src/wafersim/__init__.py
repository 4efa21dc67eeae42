"""wafersim: where should a large language model run?

Layers, each using only the ones before it: catalog → fabric → perf → serving → fleet → cli (faces).
"""

from wafersim.errors import WafersimError

__version__ = "0.1.0"
__all__ = ["WafersimError", "__version__"]
