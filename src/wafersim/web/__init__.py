"""The browser face: an HTTP API over the public Python API (FastAPI) and a dashboard of static pages.

Nothing here is imported by the core layers. FastAPI, uvicorn and plotly are the `web` extra
(`pip install -e '.[web]'`); `wafersim web` names it when they are missing.
"""
