"""Command-line faces of wafersim. Each command group lives in its own module, registered in `main.COMMANDS`."""
