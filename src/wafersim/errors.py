"""One exception type for bad input: the CLI turns it into a clear message and a non-zero exit."""


class WafersimError(Exception):
    """Bad input or an impossible request, with a message that names the file, field or value at fault.

    `field` names the input at fault as the Python API spells it (`slo_ttft_s`, `engines`), when there is one:
    the CLI maps it to its own flag and a web form can show the message next to that field.
    """

    def __init__(self, message: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
