"""project-engine: the Kafka-facing side of the streaming graph engine (SDK, CLI, local broker)."""

__version__ = "0.1.0"
