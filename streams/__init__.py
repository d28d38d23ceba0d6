"""wirewatch: a Kafka-native news monitor (stream workers, product shell; connectors live beside it)."""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)
