"""Search spaces: a network description to Optuna suggestions and back to a candidate."""
