"""Speculative-decoding options of `wafersim estimate` (the names `wafersim wafer estimate` already uses:
--draft, --acceptance, --draft-tokens; plus --mtp-heads for a target's own multi-token-prediction heads)."""

from __future__ import annotations

import functools

import click

from wafersim.catalog import Catalog
from wafersim.errors import WafersimError


def speculative_options(function):
    """Adds the options and hands the command one `speculative` argument: the raw values, resolved by
    `parse_speculative` once the catalog is known."""

    @click.option("--draft", default=None, help="Speculative decoding: draft model id (same vocabulary).")
    @click.option(
        "--mtp-heads",
        type=int,
        default=None,
        help="Speculative decoding with the model's own multi-token-prediction heads (tokens drafted per round).",
    )
    @click.option(
        "--acceptance", type=float, default=None, help="Speculative decoding: acceptance rate per token."
    )
    @click.option(
        "--draft-tokens",
        type=int,
        default=4,
        show_default=True,
        help="Tokens a draft model proposes per round (the verify width is one more).",
    )
    @functools.wraps(function)
    def wrapper(*args, draft, mtp_heads, acceptance, draft_tokens, **kwargs):
        return function(*args, speculative=(draft, mtp_heads, acceptance, draft_tokens), **kwargs)

    return wrapper


def parse_speculative(catalog: Catalog, raw: tuple):
    """None, a draft-model `Speculative` or `MTPHeads` from the option values; one-line errors otherwise."""
    from wafersim.perf.speculative import MTPHeads
    from wafersim.perf.wafer.speculative import Speculative

    draft, mtp_heads, acceptance, draft_tokens = raw
    if draft is None and mtp_heads is None:
        if acceptance is not None:
            raise WafersimError("--acceptance needs --draft MODEL or --mtp-heads N")
        return None
    if draft is not None and mtp_heads is not None:
        raise WafersimError("give either --draft or --mtp-heads, not both")
    if acceptance is None:
        raise WafersimError(
            "speculative decoding needs --acceptance (the rate at which drafted tokens are kept)"
        )
    if not 0.0 <= acceptance <= 1.0:
        raise WafersimError(f"--acceptance must be within [0, 1], got {acceptance}")
    if mtp_heads is not None:
        if mtp_heads < 1:
            raise WafersimError(f"--mtp-heads must be >= 1, got {mtp_heads}")
        return MTPHeads(mtp_heads, acceptance)
    if draft_tokens < 1:
        raise WafersimError(f"--draft-tokens must be >= 1, got {draft_tokens}")
    return Speculative(catalog.model(draft), acceptance, draft_tokens)
