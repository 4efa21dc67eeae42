"""Test doubles beside these tests are imported by name (`from doubles import ...`); pytest's importlib mode
does not put test folders on sys.path, so this one is added here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
