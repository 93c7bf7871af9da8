"""Search engines: each turns a space and an objective into trials recorded in an Optuna study."""
