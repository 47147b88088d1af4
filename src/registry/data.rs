//! Data under a registered schema, as Confluent's serializers frame it ([`super::wire`]):
//! JSON to framed bytes and framed bytes to JSON, for the three schema types. The HTTP proxy
//! produces and consumes with it, the console's message browser decodes with it.
//!
//! - AVRO: Avro's JSON encoding ⇄ Avro binary ([`super::avro_data`]).
//! - PROTOBUF: the proto3 JSON mapping ⇄ the message's wire bytes, after the message indexes
//!   of the message type (the file's first message unless one is named).
//! - JSON: the value itself as JSON text, validated against the schema when encoding (as
//!   Confluent's `JSONSerializer` does); decoding only parses it.

use serde_json::Value;

use super::records::{SchemaType, SchemaValue};
use super::schema::Parsed;
use super::store::Store;
use super::{avro_data, resolve, wire};

/// A registered schema ready to encode and decode data.
pub struct DataSchema {
    pub id: i32,
    pub schema_type: SchemaType,
    parsed: Parsed,
}

impl DataSchema {
    /// The stored schema `v`, parsed with its references.
    pub fn of(s: &Store, v: &SchemaValue) -> Result<DataSchema, String> {
        Ok(DataSchema {
            id: v.id,
            schema_type: v.schema_type,
            parsed: resolve::parse_stored(s, v)?,
        })
    }

    /// A schema parsed already (as registered under `id`).
    pub fn from_parsed(id: i32, schema_type: SchemaType, parsed: Parsed) -> DataSchema {
        DataSchema {
            id,
            schema_type,
            parsed,
        }
    }

    /// The schema with id `id`; Err if the registry has none or it does not parse.
    pub fn by_id(s: &Store, id: i32) -> Result<DataSchema, String> {
        let v = s
            .by_id(id)
            .ok_or_else(|| format!("Schema {id} not found"))?;
        DataSchema::of(s, v)
    }

    /// `data` (JSON) encoded and framed with this schema's id. `message`: the Protobuf
    /// message type by full name (None: the file's first message); ignored otherwise.
    pub fn encode(&self, message: Option<&str>, data: &Value) -> Result<Vec<u8>, String> {
        match &self.parsed {
            Parsed::Avro(schema) => {
                let payload = avro_data::encode_json(schema, data)?;
                Ok(wire::frame(self.id, None, &payload))
            }
            Parsed::Protobuf(schema) => {
                let (indexes, payload) = schema.encode_json(message, data)?;
                Ok(wire::frame(self.id, Some(&indexes), &payload))
            }
            Parsed::Json(schema) => {
                schema.validate(data).map_err(|e| e.join("; "))?;
                let payload = serde_json::to_vec(data).map_err(|e| e.to_string())?;
                Ok(wire::frame(self.id, None, &payload))
            }
        }
    }

    /// The data after the magic byte and this schema's id, decoded to JSON.
    pub fn decode(&self, payload: &[u8]) -> Result<Value, String> {
        match &self.parsed {
            Parsed::Avro(schema) => avro_data::decode_to_json(schema, payload),
            Parsed::Protobuf(schema) => {
                let (indexes, rest) = wire::read_message_indexes(payload)
                    .ok_or("the Protobuf message indexes are malformed")?;
                schema.decode_to_json(&indexes, rest)
            }
            Parsed::Json(_) => serde_json::from_slice(payload).map_err(|e| e.to_string()),
        }
    }
}

/// Framed `data` decoded with the schema its id names: (schema id, JSON).
pub fn decode(s: &Store, data: &[u8]) -> Result<(i32, Value), String> {
    let (id, payload) = wire::unframe_id(data).ok_or("Unknown magic byte!")?;
    let schema = DataSchema::by_id(s, id)?;
    Ok((id, schema.decode(payload)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resolve::prepare;
    use serde_json::json;

    /// A store holding `text` of type `t` as id `id` (through the store's own commands).
    fn store_with(t: SchemaType, text: &str) -> (Store, i32) {
        let mut s = Store::new();
        let (_, new) = prepare(&s, t, text, &[]).expect("parses");
        let reg = s
            .register("t-value", &new, |_, _| Ok(()))
            .expect("registers");
        if let Some((k, v)) = &reg.write {
            s.apply(k, v.as_deref());
        }
        (s, reg.id)
    }

    #[test]
    fn the_three_types_round_trip() {
        let cases = [
            (
                SchemaType::Avro,
                r#"{"type":"record","name":"U","fields":[{"name":"n","type":"string"},{"name":"a","type":"int"}]}"#,
                json!({"a": 3, "n": "x"}),
                // magic, id, "x" (len 1 zig-zag = 2), 'x', 3 zig-zag = 6
                vec![2, b'x', 6],
            ),
            (
                SchemaType::Protobuf,
                "syntax = \"proto3\"; message U { string n = 1; int32 a = 2; }",
                json!({"n": "x", "a": 3}),
                // indexes [0], field 1 string "x", field 2 varint 3
                vec![0, 0x0a, 1, b'x', 0x10, 3],
            ),
            (
                SchemaType::Json,
                r#"{"type":"object","properties":{"n":{"type":"string"}},"required":["n"]}"#,
                json!({"n": "x"}),
                br#"{"n":"x"}"#.to_vec(),
            ),
        ];
        for (t, text, value, payload) in cases {
            let (s, id) = store_with(t, text);
            let d = DataSchema::by_id(&s, id).expect("schema");
            let bytes = d.encode(None, &value).expect("encodes");
            let mut want = vec![0];
            want.extend_from_slice(&id.to_be_bytes());
            want.extend_from_slice(&payload);
            assert_eq!(bytes, want, "{t:?}");
            assert_eq!(decode(&s, &bytes), Ok((id, value)), "{t:?}");
        }
    }

    #[test]
    fn bad_data_and_framing_are_errors() {
        let (s, id) = store_with(SchemaType::Json, r#"{"type":"object","required":["n"]}"#);
        let d = DataSchema::by_id(&s, id).expect("schema");
        assert!(d.encode(None, &json!({"m": 1})).is_err());
        assert_eq!(decode(&s, b"plain"), Err("Unknown magic byte!".to_string()));
        assert_eq!(
            decode(&s, &[0, 0, 0, 0, 99, b'1']),
            Err("Schema 99 not found".to_string())
        );
        let (s, id) = store_with(
            SchemaType::Avro,
            r#"{"type":"record","name":"U","fields":[{"name":"a","type":"int"}]}"#,
        );
        let mut framed = vec![0];
        framed.extend_from_slice(&id.to_be_bytes());
        framed.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(decode(&s, &framed).is_err());
    }
}
