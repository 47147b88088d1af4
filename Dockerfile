# skua built from source.
#   docker build -t skua .                 the broker image (default target)
#   docker build --target compat -t skua-compat .   the broker plus the real-client suite
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY vendor ./vendor
COPY src ./src
RUN cargo build --release --bin skua

# The compatibility suite: kcat, confluent-kafka, kafka-python, aiokafka, kafkajs against the
# binary built above (the runner starts its own brokers on loopback).
FROM debian:bookworm AS compat
RUN apt-get update -qq && apt-get install -y -qq python3 python3-venv nodejs npm kcat ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /skua
COPY compat-tests ./compat-tests
RUN rm -rf compat-tests/.venv compat-tests/node_modules && ./compat-tests/setup.sh
COPY --from=build /src/target/release/skua ./target/release/skua
CMD ["./compat-tests/run.sh", "target/release/skua"]

FROM debian:bookworm-slim AS broker
COPY --from=build /src/target/release/skua /usr/local/bin/skua
VOLUME /data
EXPOSE 9092 9644
ENTRYPOINT ["/usr/local/bin/skua", "serve", "--data-dir", "/data"]
CMD ["--listen", "0.0.0.0:9092", "--advertise", "localhost:9092", "--metrics-listen", "0.0.0.0:9644"]
