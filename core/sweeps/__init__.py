"""Hyperparameter sweeps on Optuna: a search space over the config's settings (space.py), a study kept
in Optuna's storage and read by the app's sweep panel (study.py), and the trials, each an ordinary run
folder, trained and pruned on their quality readings (runner.py, trial_control.py).

Nothing here is imported by core's lower layers; Optuna is imported only inside this package."""
