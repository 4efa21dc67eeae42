"""One exception type for bad input: the CLI turns it into a clear message and a non-zero exit."""


class WafersimError(Exception):
    """Bad input or an impossible request, with a message that names the file, field or value at fault."""
