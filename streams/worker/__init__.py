"""The Faust worker: topics, tables and thin agents that move records between Kafka and the stages
of `streams.pipeline`, plus the framework patches and the alert producer it needs."""
