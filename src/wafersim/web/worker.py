"""`python -m wafersim.web.worker KIND`: one long job in its own process, for the job runner (jobs.py).

The body arrives as JSON on stdin; progress and the answer leave as JSON lines on stdout (anything else that
prints goes to stderr, the server's log).
"""

from __future__ import annotations

import json
import sys
import traceback


def main(kind: str) -> int:
    channel, sys.stdout = sys.stdout, sys.stderr

    def send(**message) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    try:
        from wafersim.errors import WafersimError
        from wafersim.web.adapter import JOBS
        from wafersim.web.schemas import JOB_BODIES

        body = JOB_BODIES[kind].model_validate(json.loads(sys.stdin.read()))
        result = JOBS[kind](
            body, lambda stage, fraction: send(state="progress", stage=stage, progress=fraction)
        )
        send(state="done", result=result)
    except WafersimError as error:
        send(state="failed", error=str(error), field=getattr(error, "field", None))
    except Exception as error:  # the client hears what; the server's log gets the traceback
        traceback.print_exc()
        send(state="failed", error=f"internal error: {type(error).__name__}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
