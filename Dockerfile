# The engine worker image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY pipeline ./pipeline
COPY agents ./agents
COPY project_engine ./project_engine
RUN pip install --no-cache-dir .
ENV PROJECT_ENGINE_DATA_DIR=/data \
    PROJECT_ENGINE_WEB_HOST=0.0.0.0 \
    PROJECT_ENGINE_LOG_FORMAT=json
VOLUME /data
EXPOSE 6066
ENTRYPOINT ["project-engine"]
CMD ["worker"]
