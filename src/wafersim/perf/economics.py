"""Dollars per token: capital amortised over a stated life, plus the energy the deployment draws.

usd_per_million_tokens = (capex / life + IT power × PUE × electricity price) / output tokens per second × 1e6,
at full utilisation (a deployment busy part of the time costs proportionally more per token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_YEAR = 365.25 * 24 * 3600
JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True)
class CostAssumptions:
    # Hyperscalers depreciate servers over 5-6 years (Microsoft and Alphabet moved to 6 years in their
    # 2022-2023 annual filings); 5 years is taken as the more conservative end.
    life_years: float = 5.0
    # US average industrial electricity price, about 8 cents/kWh (EIA Electric Power Monthly, 2024).
    usd_per_kwh: float = 0.08
    # Power usage effectiveness of a hyperscale site, 1.1-1.2 (facts.md §5); the upper end.
    pue: float = 1.2

    def __post_init__(self) -> None:
        from wafersim.errors import WafersimError

        # Upper limits: a century of life; $10/kWh is ~30x the dearest retail electricity anywhere; a PUE of 10
        # would mean a site burning 9 W on cooling per watt of IT, far outside any reported figure.
        limits = {
            "life_years": (0.0, 100.0, False),
            "usd_per_kwh": (0.0, 10.0, True),
            "pue": (1.0, 10.0, True),
        }
        for name, (low, high, low_ok) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise WafersimError(f"{name} must be a finite number, got {value!r}", field=name)
            if not (low <= value if low_ok else low < value) or value > high:
                lower = "≥" if low_ok else ">"
                raise WafersimError(f"{name} must be {lower} {low:g} and ≤ {high:g}, got {value}", field=name)


def usd_per_million_tokens(
    capex_usd: float | None, power_w: float, tokens_per_s: float, assumptions: CostAssumptions
) -> float | None:
    """None when the system's price is unknown (the catalog says where it is)."""
    if capex_usd is None or tokens_per_s <= 0:
        return None
    capital_usd_per_s = capex_usd / (assumptions.life_years * SECONDS_PER_YEAR)
    energy_usd_per_s = power_w * assumptions.pue / JOULES_PER_KWH * assumptions.usd_per_kwh
    return (capital_usd_per_s + energy_usd_per_s) / tokens_per_s * 1e6
