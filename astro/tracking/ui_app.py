"""The server app of `python -m astro ui`: MLflow's own app plus one page, /astro-ui, that makes the
model-training layout the browser's default before it opens MLflow's UI.

Why a page on MLflow's server: MLflow 3.16's UI keeps the layout in the browser's localStorage
(`mlflow.workflowType_v1`, a JSON string, written only by the sidebar's switch), and no server flag sets
it; localStorage belongs to one origin, so only a page served by the same server can write it. The page
sets it where the browser has no choice yet (a user's own choice is kept), then goes on to the
MLflow page named by its fragment: `/astro-ui#/experiments/1/runs` opens `/#/experiments/1/runs`.

How it is added: MLflow's documented way to extend its server, an app factory registered under the
`mlflow.app` entry points (pyproject.toml) and chosen with `mlflow server --app-name astro`, as MLflow's
own basic-auth app is.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flask import Flask, Response
from mlflow.environment_variables import _MLFLOW_SGI_NAME
from mlflow.server import app as mlflow_app

from astro.tracking.ui import LANDING

if TYPE_CHECKING:
    from fastapi import FastAPI

LAYOUT_KEY = "mlflow.workflowType_v1"  # MLflow's key: "mlflow.workflowType", version 1
LAYOUT = "machine_learning"

PAGE = f"""<!doctype html>
<meta charset="utf-8">
<title>MLflow</title>
<script>
try {{
  if (localStorage.getItem({json.dumps(LAYOUT_KEY)}) === null) {{
    localStorage.setItem({json.dumps(LAYOUT_KEY)}, {json.dumps(json.dumps(LAYOUT))});
  }}
}} catch (e) {{}}
location.replace("./" + location.hash);
</script>
"""


def landing() -> Response:
    """The page that sets the default layout and goes on to MLflow's UI (it echoes nothing it is sent)."""
    return Response(PAGE, mimetype="text/html", headers={"Cache-Control": "no-store"})


def create_app(app: Flask = mlflow_app) -> Flask | FastAPI:
    """MLflow's app with the landing page; under uvicorn (MLflow's default) wrapped in MLflow's FastAPI
    app, as basic-auth's factory does, since uvicorn serves ASGI only."""
    app.add_url_rule(f"/{LANDING}", endpoint="astro_landing", view_func=landing, methods=["GET"])
    if _MLFLOW_SGI_NAME.get() == "uvicorn":
        from mlflow.server.fastapi_app import create_fastapi_app

        return create_fastapi_app(app)
    return app
