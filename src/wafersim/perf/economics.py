"""Dollars per token: capital amortised over a stated life, plus the energy the deployment draws.

usd_per_million_tokens = (capex / life + IT power × PUE × electricity price) / output tokens per second × 1e6,
at full utilisation (a deployment busy part of the time costs proportionally more per token).
"""

from __future__ import annotations

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

        if self.life_years <= 0 or self.usd_per_kwh < 0 or self.pue < 1:
            raise WafersimError(
                f"cost assumptions out of range: life_years={self.life_years} (> 0), "
                f"usd_per_kwh={self.usd_per_kwh} (≥ 0), pue={self.pue} (≥ 1)"
            )


def usd_per_million_tokens(
    capex_usd: float | None, power_w: float, tokens_per_s: float, assumptions: CostAssumptions
) -> float | None:
    """None when the system's price is unknown (the catalog says where it is)."""
    if capex_usd is None or tokens_per_s <= 0:
        return None
    capital_usd_per_s = capex_usd / (assumptions.life_years * SECONDS_PER_YEAR)
    energy_usd_per_s = power_w * assumptions.pue / JOULES_PER_KWH * assumptions.usd_per_kwh
    return (capital_usd_per_s + energy_usd_per_s) / tokens_per_s * 1e6
