"""optuna-dashboard on a sweep's study: `python -m astro dashboard --storage URI [--study NAME]`.

Serves the storage's studies on loopback (default http://127.0.0.1:8080) and prints the address of the
study's page. optuna-dashboard needs optuna >= 3, so it runs on the next stack (constraints/next.txt, the
`dashboard` extra; docs/install.md), not on today's optuna 2.10.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import optuna

from astro.cli import user_errors_as_one_line
from astro.errors import AstroError
from astro.sweeps.importances import StudyError
from astro.sweeps.storage import open_storage


class DashboardError(AstroError):
    """optuna-dashboard is not installed, or cannot run with this optuna."""


def study_page(storage: optuna.storages.BaseStorage, study: str | None, host: str, port: int) -> str:
    """The address of the study's page (of the study list when no study is named)."""
    base = f"http://{host}:{port}/dashboard"
    if study is None:
        return base
    try:
        study_id = storage.get_study_id_from_name(study)
    except KeyError:
        raise StudyError(f"no Optuna study '{study}' in this storage") from None
    return f"{base}/studies/{study_id}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m astro dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", required=True, help="e.g. sqlite:///multirun/focal_optuna/optuna.db")
    parser.add_argument(
        "--study", default=None, help="the study whose page to print (hydra.sweeper.study_name)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve on (default: loopback)")
    parser.add_argument("--port", type=int, default=8080)
    _serve(parser.parse_args(argv))


@user_errors_as_one_line
def _serve(args: argparse.Namespace) -> None:
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise DashboardError(
            f"optuna-dashboard is not installed (it needs optuna >= 3; this is optuna {optuna.__version__}): "
            "install the next stack, `make install-next` or pip install -c constraints/next.txt "
            "-e '.[dashboard]' (docs/install.md)"
        ) from None
    storage = open_storage(args.storage)
    print(
        f"Optuna dashboard: {study_page(storage, args.study, args.host, args.port)} (Ctrl-C stops it)",
        flush=True,
    )
    run_server(storage, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
