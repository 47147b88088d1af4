//! The Schema Registry served by the broker (issue 13, in progress): Confluent's REST API over
//! the compacted `_schemas` topic. Built so far: [`records`], the topic's record format
//! (Confluent's, so the data moves between registries), and [`store`], the registry's state
//! as a pure state machine (ids, versions, deletes, configs, modes). The schema languages'
//! parsing and compatibility checks, the runtime over `_schemas` and the HTTP API come next
//! (see notes/issue13-research.md).

pub mod records;
pub mod store;
