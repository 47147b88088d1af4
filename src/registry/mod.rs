//! The Schema Registry served by the broker (issue 13, in progress): Confluent's REST API over
//! the compacted `_schemas` topic. Built so far: [`records`], the topic's record format
//! (Confluent's, so the data moves between registries), [`store`], the registry's state
//! as a pure state machine (ids, versions, deletes, configs, modes), [`avro`], Avro
//! parsing (with references), schema-resolution compatibility and the canonical text,
//! [`avro_data`], Avro data between its JSON and binary encodings, and [`wire`], Confluent's
//! framing of serialized data (magic byte, schema id, Protobuf message indexes). Next:
//! Protobuf and JSON Schema, the runtime over `_schemas` and the HTTP API (see
//! notes/issue13-research.md).

pub mod avro;
pub mod avro_data;
pub mod records;
pub mod store;
pub mod wire;
