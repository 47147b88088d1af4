# Build skua from source and run it.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --bin skua

FROM debian:bookworm-slim
COPY --from=build /src/target/release/skua /usr/local/bin/skua
VOLUME /data
EXPOSE 9092
ENTRYPOINT ["/usr/local/bin/skua", "serve", "--data-dir", "/data"]
CMD ["--listen", "0.0.0.0:9092", "--advertise", "skua:9092"]
