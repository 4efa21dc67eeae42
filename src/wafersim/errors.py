"""One exception type for bad input: the CLI turns it into a clear message and a non-zero exit."""


class WafersimError(Exception):
    """Bad input or an impossible request, with a message that names the file, field or value at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field  # the input field at fault, when one is (the CLI maps it to its flag)
