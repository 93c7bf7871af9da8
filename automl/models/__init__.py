"""Model families. Each trains from a configuration and reports per epoch; none imports a search engine."""

from automl.models.base import NullReporter, Reporter, TrialOutcome

__all__ = ["NullReporter", "Reporter", "TrialOutcome"]
