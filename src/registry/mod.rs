//! The Schema Registry served by the broker (issue 13, in progress): Confluent's REST API over
//! the compacted `_schemas` topic. Built so far: [`records`], the topic's record format
//! (Confluent's, so the data moves between registries), and [`store`], the registry's state
//! as a pure state machine (ids, versions, deletes, configs, modes), and [`avro`], Avro
//! parsing, schema-resolution compatibility and the canonical text. Next: Protobuf and JSON
//! Schema, the runtime over `_schemas` and the HTTP API (see
//! notes/issue13-research.md).

pub mod avro;
pub mod json_schema;
pub mod records;
pub mod store;
