"""How long work reports how far it has got: a callback the core calls, which only the CLI draws.

`progress(done, total, what)`: `done` units of `total` (None when the total is not known in advance), `what`
says what is being done. The core never imports a progress-bar library; `None` means nobody is watching.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, float | None, str], None]
