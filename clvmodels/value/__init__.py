"""Value: CLV of any purchase model x spend model (:mod:`.purchase`, compiled kernel in
:mod:`.kernel`) and of any churn model x revenue (:mod:`.contractual`), with the
credible and predictive intervals of :mod:`.intervals`."""

from .contractual import contractual_lifetime_value
from .purchase import customer_lifetime_value

__all__ = ["customer_lifetime_value", "contractual_lifetime_value"]
