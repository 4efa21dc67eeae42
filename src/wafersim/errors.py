"""One exception type for bad input: the CLI turns it into a clear message and a non-zero exit."""

from __future__ import annotations


class WafersimError(Exception):
    """Bad input or an impossible request, with a message that names the file, field or value at fault.

    `field` (optional) is the name of the input at fault (`count`, `slo_ttft_s`, `options.1.system`), so that
    a program reading `--json` errors can point at it without parsing the message.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
