"""astro's Optuna sweeper: hydra-optuna-sweeper's, plus pruning inside the jobs and an asynchronous mode
(astro.sweeps.optuna_sweep). A Hydra plugin must live in the hydra_plugins namespace to be found."""
