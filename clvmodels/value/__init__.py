"""Value: CLV of any purchase model x spend model (:mod:`.purchase`, compiled kernel in
:mod:`.kernel`) and of any churn model x revenue (:mod:`.contractual`), totals of a
customer base or of its segments (:mod:`.portfolio`), the value of a new customer
(:mod:`.new_customer`), with the credible and predictive
intervals of :mod:`.intervals`."""

from .contractual import contractual_lifetime_value
from .new_customer import new_customer_value
from .portfolio import portfolio_value
from .purchase import customer_lifetime_value

__all__ = ["contractual_lifetime_value", "customer_lifetime_value", "new_customer_value",
           "portfolio_value"]
