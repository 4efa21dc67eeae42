"""Core errors name the Python API's fields (`slo_ttft_s`, `engines`); the CLI speaks of its flags instead.

`FLAGS` maps a field to the flag that sets it where the two differ by more than `_` -> `-` and a leading `--`.
"""

from __future__ import annotations

import re

from wafersim.errors import WafersimError

FLAGS: dict[str, str] = {
    "max_tpot_s": "--max-tpot",
    "slo_ttft_s": "--slo-ttft",
    "slo_tpot_s": "--slo-tpot",
    "rate_rps": "--rate",
    "duration_s": "--duration",
    "trace_rate_rps": "--trace-rate",
    "engines": "--replicas",
    "prefill_engines": "--prefill-replicas",
    "ids": "--point",
}


# Fields with an underscore are unambiguous in prose: every mention of one in a message becomes its flag.
_NAMED = frozenset(FLAGS) | {
    "input_len", "output_len", "max_batch", "chunk_tokens", "prefill_replicas", "prefill_system", "prefill_count",
    "synthetic_requests", "rate_scale", "kv_precision", "attention_dp", "decode_grid", "prefill_grid", "clock_hz",
    "draft_tokens", "life_years", "usd_per_kwh", "trace_window", "allow_large",
}  # fmt: skip
_WORD = re.compile(r"(?<![\w-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w-])")


def flag(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def other_fields_as_flags(error: WafersimError) -> str:
    """The message with every known field other than the error's own spelt as its flag: the own field stays
    as the core names it (the CLI adds "(option --flag)" beside it)."""
    own = getattr(error, "field", None)
    return _WORD.sub(lambda m: flag(m.group(1)) if m.group(1) in _NAMED - {own} else m.group(1), str(error))


def cli_message(error: WafersimError) -> str:
    """The error's message with fields spelt as CLI flags: its own field's first mention, and every mention of
    another known field with an underscore in its name."""
    text = str(error)
    field = getattr(error, "field", None)
    if field and "_" not in field:
        text = re.sub(rf"(?<![\w-]){re.escape(field)}(?![\w-])", flag(field), text, count=1)
    named = _NAMED | ({field} if field else set())
    return _WORD.sub(lambda m: flag(m.group(1)) if m.group(1) in named else m.group(1), text)
