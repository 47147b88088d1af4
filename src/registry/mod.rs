//! The Schema Registry served by the broker (issue 13): Confluent's REST API
//! (`crate::http::registry`) over the compacted `_schemas` topic
//! (`crate::server::registry_runtime`). Here, the pure parts: [`records`], the topic's record
//! format (Confluent's, so the data moves between registries); [`store`], the registry's state
//! as a state machine (ids, versions, deletes, configs, modes); [`schema`], one entry point
//! over the schema languages: [`avro`] (parsing with references, schema-resolution
//! compatibility, the canonical text), [`json_schema`] (references, canonical text,
//! Confluent's strict diff rules, validation), [`protobuf`] (.proto text or descriptors, canonical
//! text, Confluent's diff rules, message indexes, JSON data); [`avro_data`], Avro data between
//! its JSON and binary encodings; [`wire`], Confluent's framing of serialized data (magic
//! byte, schema id, Protobuf message indexes).

pub mod avro;
pub mod avro_data;
pub mod data;
pub mod json_schema;
pub mod protobuf;
pub mod records;
pub mod resolve;
pub mod schema;
pub mod store;
pub mod wire;
