//! The Schema Registry served by the broker (issue 13, in progress): Confluent's REST API over
//! the compacted `_schemas` topic. Built so far: [`records`], the topic's record format
//! (Confluent's, so the data moves between registries). The store, the compatibility checks
//! and the HTTP API come next (see notes/issue13-research.md).

pub mod records;
