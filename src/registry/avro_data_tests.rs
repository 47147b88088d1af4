use super::*;
use serde_json::json;

fn s(text: &str) -> AvroSchema {
    AvroSchema::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn enc(schema: &str, v: Value) -> Vec<u8> {
    encode_json(&s(schema), &v).unwrap_or_else(|e| panic!("{schema} {v}: {e}"))
}

fn enc_err(schema: &str, v: Value) -> String {
    match encode_json(&s(schema), &v) {
        Ok(b) => panic!("{schema} {v} encoded as {b:02x?}"),
        Err(e) => e,
    }
}

fn dec(schema: &str, data: &[u8]) -> Value {
    decode_to_json(&s(schema), data).unwrap_or_else(|e| panic!("{schema} {data:02x?}: {e}"))
}

/// JSON -> binary (expected bytes) -> the same JSON.
fn round_trip(schema: &str, v: Value, bytes: &[u8]) {
    assert_eq!(enc(schema, v.clone()), bytes, "{schema} {v}");
    assert_eq!(dec(schema, bytes), v, "{schema} {bytes:02x?}");
}

#[test]
fn ints_and_longs_are_zigzag_varints_as_in_the_spec() {
    for (n, bytes) in [
        (0i64, &[0x00][..]),
        (-1, &[0x01]),
        (1, &[0x02]),
        (-2, &[0x03]),
        (2, &[0x04]),
        (-64, &[0x7f]),
        (64, &[0x80, 0x01]),
        (27, &[0x36]),
        (-8193, &[0x81, 0x80, 0x01]),
    ] {
        round_trip(r#""long""#, json!(n), bytes);
        round_trip(r#""int""#, json!(n), bytes);
    }
    round_trip(
        r#""long""#,
        json!(i64::MAX),
        &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    );
    round_trip(
        r#""long""#,
        json!(i64::MIN),
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    );
    round_trip(r#""int""#, json!(i32::MAX), &[0xfe, 0xff, 0xff, 0xff, 0x0f]);
    round_trip(r#""int""#, json!(i32::MIN), &[0xff, 0xff, 0xff, 0xff, 0x0f]);
}

#[test]
fn primitives_encode_as_in_the_spec() {
    round_trip(r#""null""#, json!(null), &[]);
    round_trip(r#""boolean""#, json!(true), &[0x01]);
    round_trip(r#""boolean""#, json!(false), &[0x00]);
    round_trip(r#""string""#, json!("foo"), &[0x06, 0x66, 0x6f, 0x6f]);
    round_trip(r#""string""#, json!(""), &[0x00]);
    round_trip(r#""string""#, json!("é"), &[0x04, 0xc3, 0xa9]);
    round_trip(r#""float""#, json!(1.0), &[0x00, 0x00, 0x80, 0x3f]);
    round_trip(r#""float""#, json!(-2.5), &[0x00, 0x00, 0x20, 0xc0]);
    // 0.1 is not an f32: it is written rounded and read back as the shortest decimal.
    round_trip(r#""float""#, json!(0.1), &[0xcd, 0xcc, 0xcc, 0x3d]);
    round_trip(r#""double""#, json!(1.0), &[0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    round_trip(
        r#""double""#,
        json!(0.1),
        &[0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f],
    );
    // Integers are numbers too.
    assert_eq!(enc(r#""double""#, json!(2)), [0, 0, 0, 0, 0, 0, 0, 0x40]);
    // Non-finite values, which JSON cannot carry, are strings.
    round_trip(r#""double""#, json!("NaN"), &[0, 0, 0, 0, 0, 0, 0xf8, 0x7f]);
    round_trip(
        r#""double""#,
        json!("-Infinity"),
        &[0, 0, 0, 0, 0, 0, 0xf0, 0xff],
    );
    round_trip(r#""float""#, json!("Infinity"), &[0, 0, 0x80, 0x7f]);
    // A logical type is its underlying type.
    round_trip(
        r#"{"type":"long","logicalType":"timestamp-millis"}"#,
        json!(1_700_000_000_000i64),
        &[0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62],
    );
}

#[test]
fn bytes_and_fixed_are_strings_of_code_points_up_to_u00ff() {
    round_trip(
        r#""bytes""#,
        json!("\u{0}\u{1}a\u{ff}"),
        &[0x08, 0x00, 0x01, 0x61, 0xff],
    );
    assert_eq!(
        dec(r#""bytes""#, &[0x04, 0x00, 0xe9]).to_string(),
        r#""\u0000é""#
    );
    let fixed = r#"{"type":"fixed","name":"F","size":3}"#;
    round_trip(fixed, json!("\u{80}b\u{0}"), &[0x80, 0x62, 0x00]);
    assert_eq!(enc_err(fixed, json!("ab")), "fixed F has 3 bytes, found 2");
    assert_eq!(
        enc_err(r#""bytes""#, json!("Ā")),
        r#"expected bytes as a string (characters U+0000 to U+00FF), found "Ā""#
    );
    round_trip(r#"{"type":"fixed","name":"Z","size":0}"#, json!(""), &[]);
}

#[test]
fn records_arrays_maps_and_enums_as_in_the_spec() {
    // The spec's record example: a = 27, b = "foo".
    round_trip(
        r#"{"type":"record","name":"test","fields":[
            {"name":"a","type":"long"},{"name":"b","type":"string"}]}"#,
        json!({"a": 27, "b": "foo"}),
        &[0x36, 0x06, 0x66, 0x6f, 0x6f],
    );
    // The spec's array example: [3, 27] is one block of 2, then 0.
    round_trip(
        r#"{"type":"array","items":"long"}"#,
        json!([3, 27]),
        &[0x04, 0x06, 0x36, 0x00],
    );
    round_trip(r#"{"type":"array","items":"long"}"#, json!([]), &[0x00]);
    // Map entries in key order: count, key, value, ..., 0.
    round_trip(
        r#"{"type":"map","values":"int"}"#,
        json!({"a": 1, "b": -1}),
        &[0x04, 0x02, b'a', 0x02, 0x02, b'b', 0x01, 0x00],
    );
    round_trip(r#"{"type":"map","values":"int"}"#, json!({}), &[0x00]);
    let e = r#"{"type":"enum","name":"Foo","symbols":["A","B","C","D"]}"#;
    round_trip(e, json!("A"), &[0x00]);
    round_trip(e, json!("D"), &[0x06]);
}

#[test]
fn unions_are_wrapped_by_branch_name_except_null() {
    let u = r#"["null","string",{"type":"record","name":"ns.R","fields":[{"name":"x","type":"int"}]},
        {"type":"array","items":"int"},{"type":"map","values":"string"},
        {"type":"enum","name":"E","namespace":"ns","symbols":["X"]}]"#;
    round_trip(u, json!(null), &[0x00]);
    round_trip(u, json!({"string": "a"}), &[0x02, 0x02, b'a']);
    round_trip(u, json!({"ns.R": {"x": 1}}), &[0x04, 0x02]);
    round_trip(u, json!({"array": [1]}), &[0x06, 0x02, 0x02, 0x00]);
    round_trip(
        u,
        json!({"map": {"k": "v"}}),
        &[0x08, 0x02, 0x02, b'k', 0x02, b'v', 0x00],
    );
    round_trip(u, json!({"ns.E": "X"}), &[0x0a, 0x00]);
    // A named branch by its short name, when unambiguous; read back by full name.
    assert_eq!(enc(u, json!({"R": {"x": 1}})), [0x04, 0x02]);
    assert_eq!(
        enc_err(u, json!("a")),
        r#"expected a union value {"<branch>": value} or null, branches ["null", "string", "ns.R", "array", "map", "ns.E"]; found "a""#
    );
    assert_eq!(
        enc_err(u, json!({"int": 1})),
        r#""int" is not a branch of the union"#
    );
    assert_eq!(
        enc_err(u, json!({"string": 1})),
        r#"at /string: expected a string, found 1"#
    );
    assert_eq!(
        enc_err(r#"["int","string"]"#, json!(null)),
        "null is not a branch of the union"
    );
    assert!(encode_json(&s(u), &json!({"string": "a", "null": null})).is_err());
    // Ambiguous short names are refused.
    let two = r#"[{"type":"fixed","name":"a.F","size":1},{"type":"fixed","name":"b.F","size":2}]"#;
    assert_eq!(
        enc_err(two, json!({"F": "x"})),
        r#""F" is not a branch of the union"#
    );
    round_trip(two, json!({"b.F": "xy"}), &[0x02, b'x', b'y']);
}

const EVERYTHING: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"long"},
    {"name":"flag","type":"boolean"},
    {"name":"qty","type":"int"},
    {"name":"price","type":"double"},
    {"name":"ratio","type":"float"},
    {"name":"note","type":["null","string"]},
    {"name":"raw","type":"bytes"},
    {"name":"hash","type":{"type":"fixed","name":"Hash","size":4}},
    {"name":"state","type":{"type":"enum","name":"State","symbols":["NEW","PAID","SENT"]}},
    {"name":"customer","type":{"type":"record","name":"Customer","fields":[
        {"name":"name","type":"string"},
        {"name":"address","type":["null",{"type":"record","name":"Address","namespace":"geo",
            "fields":[{"name":"city","type":"string"},{"name":"zip","type":["null","int"]}]}]}]}},
    {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
        {"name":"sku","type":"string"},{"name":"n","type":"int"}]}}},
    {"name":"tags","type":{"type":"map","values":{"type":"array","items":"string"}}},
    {"name":"previous","type":["null","Hash","State"]},
    {"name":"big","type":"long"},
    {"name":"small","type":"long"}]}"#;

fn everything() -> Value {
    json!({
        "id": 42,
        "flag": true,
        "qty": -3,
        "price": 12.5,
        "ratio": 0.3,
        "note": {"string": "fragile"},
        "raw": "\u{0}\u{ff}\u{7f}",
        "hash": "abcd",
        "state": "PAID",
        "customer": {
            "name": "Ada",
            "address": {"geo.Address": {"city": "Oslo", "zip": {"int": 150}}}
        },
        "lines": [{"sku": "x-1", "n": 2}, {"sku": "y", "n": 0}],
        "tags": {"gift": ["red", "small"], "none": []},
        "previous": {"shop.State": "NEW"},
        "big": i64::MAX,
        "small": i64::MIN
    })
}

#[test]
fn every_type_round_trips_through_binary() {
    let schema = s(EVERYTHING);
    let v = everything();
    let bytes = encode_json(&schema, &v).unwrap();
    assert_eq!(decode_to_json(&schema, &bytes).unwrap(), v);
    // The first fields' bytes, by hand: id 42, true, -3, 12.5, 0.3f, union 1 + "fragile".
    let mut head = vec![0x54, 0x01, 0x05];
    head.extend_from_slice(&12.5f64.to_le_bytes());
    head.extend_from_slice(&0.3f32.to_le_bytes());
    head.extend_from_slice(&[0x02, 0x0e]);
    head.extend_from_slice(b"fragile");
    head.extend_from_slice(&[0x06, 0x00, 0xff, 0x7f]);
    head.extend_from_slice(b"abcd");
    head.push(0x02);
    assert_eq!(bytes[..head.len()], head[..]);
    // Null branches and empty containers.
    let mut v2 = v.clone();
    v2["note"] = json!(null);
    v2["customer"]["address"] = json!(null);
    v2["lines"] = json!([]);
    v2["tags"] = json!({});
    v2["previous"] = json!({"shop.Hash": "\u{1}\u{2}\u{3}\u{4}"});
    let bytes2 = encode_json(&schema, &v2).unwrap();
    assert_eq!(decode_to_json(&schema, &bytes2).unwrap(), v2);
}

#[test]
fn missing_fields_take_their_defaults() {
    let schema = r#"{"type":"record","name":"R","fields":[
        {"name":"id","type":"int"},
        {"name":"email","type":["null","string"],"default":null},
        {"name":"first","type":["string","null"],"default":"x"},
        {"name":"n","type":"long","default":7},
        {"name":"kind","type":{"type":"enum","name":"K","symbols":["A","B"]},"default":"B"},
        {"name":"raw","type":"bytes","default":"\u00ff"},
        {"name":"xs","type":{"type":"array","items":"int"},"default":[1,2]},
        {"name":"sub","type":{"type":"record","name":"S","fields":[
            {"name":"u","type":["null","int"]}]},"default":{"u":null}}]}"#;
    let bytes = enc(schema, json!({"id": 1}));
    assert_eq!(
        bytes,
        [0x02, 0x00, 0x00, 0x02, b'x', 0x0e, 0x02, 0x02, 0xff, 0x04, 0x02, 0x04, 0x00, 0x00]
    );
    assert_eq!(
        dec(schema, &bytes),
        json!({"id": 1, "email": null, "first": {"string": "x"}, "n": 7, "kind": "B",
               "raw": "\u{ff}", "xs": [1, 2], "sub": {"u": null}})
    );
    // Given values win over defaults.
    let given = enc(schema, json!({"id": 1, "n": 8, "email": {"string": "a@b"}}));
    assert_eq!(given[..5], [0x02, 0x02, 0x06, b'a', b'@']);
    // A field with no default must be given.
    assert_eq!(
        enc_err(schema, json!({"email": null})),
        "at /id: missing field (and no default in the schema)"
    );
    // A default that does not fit its type is reported when it is needed.
    let bad = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#;
    assert_eq!(
        enc_err(bad, json!({})),
        r#"at /a: invalid default in the schema: expected an int, found "x""#
    );
    assert_eq!(enc(bad, json!({"a": 3})), [0x06]);
}

#[test]
fn wrong_json_is_refused_with_the_path() {
    let r = r#"{"type":"record","name":"R","fields":[
        {"name":"a","type":"int"},
        {"name":"l","type":{"type":"array","items":{"type":"map","values":"long"}}}]}"#;
    assert_eq!(
        enc_err(r, json!({"a": 1, "l": [{}, {"k": "x"}]})),
        r#"at /l/1/k: expected a long, found "x""#
    );
    assert_eq!(
        enc_err(r, json!({"a": 1, "l": [], "b": 2})),
        r#"unknown field "b""#
    );
    assert_eq!(
        enc_err(r, json!([1])),
        "expected an object (record R), found [1]"
    );
    assert_eq!(
        enc_err(r#""int""#, json!(2_147_483_648i64)),
        "2147483648 is out of range for an int"
    );
    assert_eq!(
        enc_err(r#""long""#, json!(u64::MAX)),
        "18446744073709551615 is out of range for a long"
    );
    assert_eq!(
        enc_err(r#""long""#, json!(1.5)),
        "expected a long, found 1.5"
    );
    assert_eq!(
        enc_err(r#""float""#, json!(1e39)),
        "1e+39 is out of range for a float"
    );
    assert_eq!(enc(r#""double""#, json!(1e39)), 1e39f64.to_le_bytes());
    assert_eq!(
        enc_err(r#""long""#, json!("1")),
        r#"expected a long, found "1""#
    );
    assert_eq!(
        enc_err(r#""boolean""#, json!(1)),
        "expected a boolean, found 1"
    );
    assert_eq!(enc_err(r#""null""#, json!(0)), "expected null, found 0");
    assert_eq!(
        enc_err(r#""double""#, json!("nan")),
        r#"expected a double, found "nan""#
    );
    assert_eq!(
        enc_err(r#"{"type":"enum","name":"E","symbols":["A"]}"#, json!("B")),
        r#""B" is not a symbol of enum E"#
    );
    assert_eq!(
        enc_err(r#"{"type":"map","values":"int"}"#, json!([])),
        "expected an object (map), found []"
    );
    assert_eq!(
        enc_err(r#"{"type":"array","items":"int"}"#, json!({})),
        "expected an array, found {}"
    );
    // Long values are shortened in messages.
    let long = "y".repeat(100);
    assert_eq!(
        enc_err(r#""int""#, json!(long)),
        format!("expected an int, found \"{}...", "y".repeat(39))
    );
}

#[test]
fn binary_must_be_exactly_one_value() {
    let schema = s(EVERYTHING);
    let bytes = encode_json(&schema, &everything()).unwrap();
    for cut in 0..bytes.len() {
        assert!(
            decode_to_json(&schema, &bytes[..cut]).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        decode_to_json(&schema, &longer).unwrap_err(),
        format!("1 bytes left after the value (of {})", longer.len())
    );
}

#[test]
fn malformed_binary_is_refused_with_a_message() {
    let cases: &[(&str, &[u8], &str)] = &[
        (r#""boolean""#, &[0x02], "boolean byte 2 at byte 0"),
        (
            r#""int""#,
            &[0x80],
            "truncated: 1 bytes needed at byte 1, 0 left",
        ),
        (
            r#""int""#,
            &[0x80, 0x80, 0x80, 0x80, 0x10],
            "varint at byte 0 overflows 32 bits",
        ),
        (
            r#""int""#,
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            "varint at byte 0 longer than 5 bytes",
        ),
        (
            r#""long""#,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            "varint at byte 0 overflows 64 bits",
        ),
        (
            r#""string""#,
            &[0x01],
            "length -1 at byte 0 is negative or beyond the 0 bytes left",
        ),
        // A length far beyond the input allocates nothing.
        (
            r#""bytes""#,
            &[
                0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00,
            ],
            "length 9223372036854775807 at byte 0 is negative or beyond the 1 bytes left",
        ),
        (
            r#""string""#,
            &[0x04, 0xc3, 0x28],
            "string at byte 0 is not UTF-8",
        ),
        (
            r#"{"type":"enum","name":"E","symbols":["A"]}"#,
            &[0x02],
            "enum E has no symbol 1 (at byte 0)",
        ),
        (
            r#"["null","int"]"#,
            &[0x04],
            "union has no branch 2 (at byte 0)",
        ),
        (
            r#"["null","int"]"#,
            &[0x01],
            "union has no branch -1 (at byte 0)",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"]}]}"#,
            &[0x02, 0x04, b'a'],
            "at /a/string: length 2 at byte 1 is negative or beyond the 1 bytes left",
        ),
        // A block with a byte size that does not match its items.
        (
            r#"{"type":"array","items":"int"}"#,
            &[0x01, 0x04, 0x02, 0x00],
            "block at byte 0 says 2 bytes, its items took 1",
        ),
        (
            r#"{"type":"fixed","name":"F","size":4}"#,
            &[1, 2],
            "truncated: 4 bytes needed at byte 0, 2 left",
        ),
    ];
    for (schema, data, msg) in cases {
        assert_eq!(
            decode_to_json(&s(schema), data)
                .as_ref()
                .map_err(String::as_str),
            Err(*msg),
            "{schema} {data:02x?}"
        );
    }
    // A block with a correct byte size is read.
    assert_eq!(
        dec(
            r#"{"type":"array","items":"int"}"#,
            &[0x03, 0x04, 0x02, 0x04, 0x00]
        ),
        json!([1, 2])
    );
    // Several blocks make one array.
    assert_eq!(
        dec(
            r#"{"type":"array","items":"int"}"#,
            &[0x02, 0x02, 0x02, 0x04, 0x00]
        ),
        json!([1, 2])
    );
}

#[test]
fn items_that_take_no_bytes_are_bounded() {
    let nulls = s(r#"{"type":"array","items":"null"}"#);
    // A few nulls are fine.
    assert_eq!(
        decode_to_json(&nulls, &[0x06, 0x00]).unwrap(),
        json!([null, null, null])
    );
    // 2^62 nulls in two bytes' worth of varint: refused before any item is read.
    let huge = [
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00,
    ];
    assert_eq!(
        decode_to_json(&nulls, &huge).unwrap_err(),
        "block of 4611686018427387904 items at byte 0: more than the data can hold"
    );
    // The budget is for the whole value, not per block.
    let mut many = Vec::new();
    for _ in 0..3 {
        many.extend_from_slice(&[0xfe, 0xff, 0x03]); // 32767 items
    }
    many.push(0x00);
    assert!(decode_to_json(&nulls, &many).is_err());
    let empty_records = s(r#"{"type":"map","values":{"type":"record","name":"E","fields":[]}}"#);
    assert_eq!(
        decode_to_json(&empty_records, &[0x02, 0x00, 0x00]).unwrap(),
        json!({"": {}})
    );
}

#[test]
fn nesting_is_bounded_and_stays_parseable() {
    let list = s(r#"{"type":"record","name":"Node","fields":[
        {"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}"#);
    // Each list node is two JSON levels (the record and the union branch object): 64 nodes
    // are 127 levels, the most allowed.
    let mut v = json!(null);
    for i in 0..64 {
        v = json!({"v": i, "next": v});
        v = json!({"Node": v});
    }
    let Value::Object(o) = &v else { panic!() };
    let top = o.get("Node").unwrap().clone();
    let bytes = encode_json(&list, &top).unwrap();
    let back = decode_to_json(&list, &bytes).unwrap();
    assert_eq!(back, top);
    // The deepest output serde_json still parses.
    let text = back.to_string();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), back);
    // One level more is refused both ways.
    let deeper = json!({"v": 0, "next": v});
    let msg = encode_json(&list, &deeper).unwrap_err();
    assert!(msg.ends_with("nested deeper than 127 levels"), "{msg}");
    let mut bytes = Vec::new();
    for _ in 0..64 {
        bytes.extend_from_slice(&[0x00, 0x02]);
    }
    bytes.extend_from_slice(&[0x00, 0x00]);
    let msg = decode_to_json(&list, &bytes).unwrap_err();
    assert!(msg.ends_with("nested deeper than 127 levels"), "{msg}");
    // A record that contains itself with no way out: refused, not a stack overflow.
    let endless = s(r#"{"type":"record","name":"R","fields":[{"name":"r","type":"R"}]}"#);
    assert!(decode_to_json(&endless, &[]).is_err());
    assert!(encode_json(&endless, &json!({"r": {"r": {}}})).is_err());
    // ...nor is a default that is its own default.
    let own = s(r#"{"type":"record","name":"R","fields":[{"name":"r","type":"R","default":{}}]}"#);
    let msg = encode_json(&own, &json!({})).unwrap_err();
    assert!(msg.ends_with("nested deeper than 127 levels"), "{msg}");
}

/// A deterministic stream of bytes (xorshift) for the garbage tests.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn garbage_never_panics() {
    let schemas = [
        s(EVERYTHING),
        s(r#"{"type":"record","name":"Node","fields":[
            {"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}"#),
        s(r#"{"type":"map","values":{"type":"array","items":["null","bytes","double"]}}"#),
        s(r#"{"type":"array","items":"null"}"#),
    ];
    for schema in &schemas {
        for seed in 0..2000u64 {
            let data = noise(seed, (seed % 64) as usize);
            let _ = decode_to_json(schema, &data);
        }
    }
    // Every single-byte change of a valid encoding: decoded or refused, and a decoded value
    // encodes back to the same bytes.
    let schema = s(EVERYTHING);
    let bytes = encode_json(&schema, &everything()).unwrap();
    for i in 0..bytes.len() {
        for b in [0x00, 0x01, 0x7f, 0x80, 0xff, bytes[i] ^ 0x40] {
            let mut m = bytes.clone();
            m[i] = b;
            if let Ok(v) = decode_to_json(&schema, &m) {
                let again = encode_json(&schema, &v).unwrap();
                assert_eq!(decode_to_json(&schema, &again).unwrap(), v);
            }
        }
    }
}

#[test]
fn schemas_with_references_encode_and_decode() {
    let address = r#"{"type":"record","name":"Address","namespace":"geo",
        "fields":[{"name":"city","type":"string"}]}"#;
    let main = r#"{"type":"record","name":"User","namespace":"app","fields":[
        {"name":"home","type":"geo.Address"},{"name":"work","type":["null","geo.Address"]}]}"#;
    let schema = AvroSchema::parse_with_refs(main, &[("address".into(), address.into())]).unwrap();
    let v = json!({"home": {"city": "Oslo"}, "work": {"geo.Address": {"city": "Bergen"}}});
    let bytes = encode_json(&schema, &v).unwrap();
    let mut expected = vec![0x08];
    expected.extend_from_slice(b"Oslo");
    expected.extend_from_slice(&[0x02, 0x0c]);
    expected.extend_from_slice(b"Bergen");
    assert_eq!(bytes, expected);
    assert_eq!(decode_to_json(&schema, &bytes).unwrap(), v);
}
