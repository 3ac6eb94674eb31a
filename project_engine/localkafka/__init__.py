"""A real single-node Apache Kafka (KRaft) for development and tests, run from Maven jars.

``LocalKafka`` starts the broker as a child JVM and stops it again; the jars of Kafka
:data:`KAFKA_VERSION` are downloaded once with Maven into a cache folder and reused::

    with LocalKafka(free_port()) as kafka:
        use(kafka.bootstrap)
"""

from project_engine.localkafka.broker import LocalKafka
from project_engine.localkafka.config import (
    SCRAM_MECHANISM,
    BrokerConfig,
    new_cluster_id,
    render_server_properties,
)
from project_engine.localkafka.host import (
    LocalKafkaError,
    PortInUseError,
    free_port,
    port_in_use,
)
from project_engine.localkafka.jars import (
    KAFKA_VERSION,
    default_cache_dir,
    lib_dir,
    resolve_jars,
)

__all__ = [
    "KAFKA_VERSION",
    "SCRAM_MECHANISM",
    "BrokerConfig",
    "LocalKafka",
    "LocalKafkaError",
    "PortInUseError",
    "default_cache_dir",
    "free_port",
    "lib_dir",
    "new_cluster_id",
    "port_in_use",
    "render_server_properties",
    "resolve_jars",
]
