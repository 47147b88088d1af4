use super::*;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    MessageOptions,
};

fn s(text: &str) -> ProtoSchema {
    ProtoSchema::parse(text, &[]).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn with_deps(text: &str, deps: &[(&str, &str)]) -> ProtoSchema {
    let deps: Vec<(String, String)> = deps
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    ProtoSchema::parse(text, &deps).unwrap_or_else(|e| panic!("{text}: {e}"))
}

const USER: &str = r#"// The user schema.
syntax = "proto3";
package com.example;

import "google/protobuf/timestamp.proto";
option java_package = "com.example.proto";

enum Status { UNKNOWN = 0; ACTIVE = 1 [deprecated = true]; }

message User {
  int32 id = 1;
  string name = 2 [json_name = "fullName"];
  map<string, Address> addresses = 3;
  repeated int64 tags = 4 [packed = false, deprecated = true];
  google.protobuf.Timestamp created = 5;
  optional Status status = 6;
  oneof contact {
    string email = 7;
    string phone = 12;
  }
  reserved 8, 9 to 11;
  reserved "old";
  message Address { string street = 1; }
  enum Kind { A = 0; }
}

message Other {
  User.Address a = 1;
}
"#;

const USER_CANONICAL: &str = r#"syntax = "proto3";
package com.example;

import "google/protobuf/timestamp.proto";

option java_package = "com.example.proto";

message User {
  reserved 8, 9 to 11;
  reserved "old";

  int32 id = 1;
  string name = 2 [json_name = "fullName"];
  map<string, Address> addresses = 3;
  repeated int64 tags = 4 [
    packed = false,
    deprecated = true
  ];
  google.protobuf.Timestamp created = 5;
  optional Status status = 6;

  oneof contact {
    string email = 7;
    string phone = 12;
  }

  message Address {
    string street = 1;
  }
  enum Kind {
    A = 0;
  }
}
message Other {
  User.Address a = 1;
}
enum Status {
  UNKNOWN = 0;
  ACTIVE = 1 [deprecated = true];
}
"#;

#[test]
fn proto_text_is_printed_in_confluents_layout() {
    // Messages before enums, declaration order kept, type names and map<> as written,
    // comments dropped, sections separated by blank lines.
    assert_eq!(s(USER).canonical(), USER_CANONICAL);
}

#[test]
fn canonical_text_parses_back_to_itself_and_the_same_descriptor() {
    let a = s(USER);
    let b = s(&a.canonical());
    assert_eq!(b.canonical(), a.canonical());
    assert_eq!(b.serialized(), a.serialized());
}

/// The file as protoc/confluent-kafka-python would serialize it: resolved type names,
/// json_name on every field, the map entry as a nested message.
fn shop_descriptor() -> FileDescriptorProto {
    let field = |name: &str, number: i32, ty: Type, type_name: Option<&str>| {
        let json = name.to_string();
        FieldDescriptorProto {
            name: Some(name.to_string()),
            number: Some(number),
            label: Some(Label::Optional as i32),
            r#type: Some(ty as i32),
            type_name: type_name.map(str::to_string),
            json_name: Some(json),
            ..Default::default()
        }
    };
    let repeated = |f: FieldDescriptorProto| FieldDescriptorProto {
        label: Some(Label::Repeated as i32),
        ..f
    };
    FileDescriptorProto {
        name: Some("shop.proto".to_string()),
        package: Some("shop".to_string()),
        dependency: vec!["google/protobuf/timestamp.proto".to_string()],
        syntax: Some("proto3".to_string()),
        message_type: vec![
            DescriptorProto {
                name: Some("Order".to_string()),
                field: vec![
                    field("id", 1, Type::Int64, None),
                    repeated(field("items", 2, Type::Message, Some(".shop.Item"))),
                    repeated(field(
                        "attrs",
                        3,
                        Type::Message,
                        Some(".shop.Order.AttrsEntry"),
                    )),
                    field(
                        "created",
                        4,
                        Type::Message,
                        Some(".google.protobuf.Timestamp"),
                    ),
                ],
                nested_type: vec![DescriptorProto {
                    name: Some("AttrsEntry".to_string()),
                    field: vec![
                        field("key", 1, Type::String, None),
                        field("value", 2, Type::String, None),
                    ],
                    options: Some(MessageOptions {
                        map_entry: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            },
            DescriptorProto {
                name: Some("Item".to_string()),
                field: vec![
                    field("sku", 1, Type::String, None),
                    field("qty", 2, Type::Int32, None),
                    field("kind", 3, Type::Enum, Some(".shop.Kind")),
                ],
                ..Default::default()
            },
        ],
        enum_type: vec![EnumDescriptorProto {
            name: Some("Kind".to_string()),
            value: vec![
                EnumValueDescriptorProto {
                    name: Some("KIND_UNKNOWN".to_string()),
                    number: Some(0),
                    ..Default::default()
                },
                EnumValueDescriptorProto {
                    name: Some("KIND_BOOK".to_string()),
                    number: Some(1),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn b64(file: &FileDescriptorProto) -> String {
    general_purpose::STANDARD.encode(file.encode_to_vec())
}

const SHOP_CANONICAL: &str = r#"syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1 [json_name = "id"];
  repeated .shop.Item items = 2 [json_name = "items"];
  repeated .shop.Order.AttrsEntry attrs = 3 [json_name = "attrs"];
  .google.protobuf.Timestamp created = 4 [json_name = "created"];

  message AttrsEntry {
    option map_entry = true;
  
    string key = 1 [json_name = "key"];
    string value = 2 [json_name = "value"];
  }
}
message Item {
  string sku = 1 [json_name = "sku"];
  int32 qty = 2 [json_name = "qty"];
  .shop.Kind kind = 3 [json_name = "kind"];
}
enum Kind {
  KIND_UNKNOWN = 0;
  KIND_BOOK = 1;
}
"#;

#[test]
fn base64_descriptor_is_printed_as_confluent_prints_descriptors() {
    // Resolved names, json_name kept, the map entry a nested message (the blank line inside
    // it keeps its indent, as Java's appendIndented does).
    let shop = s(&b64(&shop_descriptor()));
    assert_eq!(shop.canonical(), SHOP_CANONICAL);
    // The stored text describes the same file.
    let again = s(SHOP_CANONICAL);
    assert_eq!(again.canonical(), SHOP_CANONICAL);
    let served = decode_descriptor(&shop.serialized()).unwrap();
    let input = shop_descriptor();
    assert_eq!(served.name(), "default");
    assert_eq!(served.package, input.package);
    assert_eq!(served.dependency, input.dependency);
    assert_eq!(served.message_type, input.message_type);
    assert_eq!(served.enum_type, input.enum_type);
    // Padding is optional, as for Java's decoder.
    let unpadded = b64(&shop_descriptor()).trim_end_matches('=').to_string();
    assert_eq!(s(&unpadded).canonical(), SHOP_CANONICAL);
}

#[test]
fn serialized_descriptor_of_a_text_schema_parses_back() {
    let user = s(USER);
    let from_descriptor = s(&user.serialized());
    // Confluent prints a descriptor differently from the text (resolved names, json_name,
    // map entries), but it is the same schema: compatible both ways, same message indexes.
    assert_eq!(from_descriptor.can_read(&user), Ok(()));
    assert_eq!(user.can_read(&from_descriptor), Ok(()));
    assert!(from_descriptor.canonical().contains(
        "repeated .com.example.User.AddressesEntry addresses = 3 [json_name = \"addresses\"];"
    ));
    assert_eq!(
        from_descriptor.message_indexes("com.example.Other"),
        Some(vec![1])
    );
    assert_eq!(
        s(&from_descriptor.canonical()).canonical(),
        from_descriptor.canonical()
    );
}

#[test]
fn proto2_labels_defaults_groups_extensions_and_custom_options() {
    let text = r#"syntax = "proto2";
package p2;
import "google/protobuf/descriptor.proto";
extend google.protobuf.FileOptions { optional string my_opt = 50001; optional Meta meta = 50002; }
message Meta { optional string doc = 1; repeated string tags = 2; optional Meta inner = 3; }
option (my_opt) = "hello \"x\"";
option (meta) = { doc: "d" tags: ["a", "b"] inner { doc: "i" } };
message M {
  required int32 a = 1 [default = 5];
  optional string s = 2 [default = "q\"t"];
  optional E e = 3 [default = B];
  repeated group G = 5 { optional int32 x = 1; }
  extensions 100 to 199, 300 to max;
  reserved 20 to 29, 40;
  enum E { A = 0; B = 1; }
}
service S {
  rpc Call (M) returns (stream M) { option deprecated = true; }
}
"#;
    let expected = r#"syntax = "proto2";
package p2;

import "google/protobuf/descriptor.proto";

option (my_opt) = "hello \"x\"";
option (meta) = {
  doc: "d",
  tags: [
    "a",
    "b"
  ],
  inner: {
    doc: "i"
  }
};

message Meta {
  optional string doc = 1;
  repeated string tags = 2;
  optional Meta inner = 3;
}
message M {
  reserved 20 to 29, 40;

  required int32 a = 1 [default = 5];
  optional string s = 2 [default = "q\"t"];
  optional E e = 3 [default = B];

  repeated group G = 5 {
    optional int32 x = 1;
  }

  extensions 100 to 199, 300 to max;

  enum E {
    A = 0;
    B = 1;
  }
}

extend google.protobuf.FileOptions {
  optional string my_opt = 50001;
  optional Meta meta = 50002;
}

service S {
  rpc Call (M) returns (stream M) {
    option deprecated = true;
  };
}
"#;
    let p2 = s(text);
    assert_eq!(p2.canonical(), expected);
    assert_eq!(s(expected).canonical(), expected);
    // The group's body is not a message of its own in Confluent's model.
    assert_eq!(p2.message_indexes("p2.M"), Some(vec![1]));
    assert_eq!(p2.message_indexes("p2.M.G"), None);
}

#[test]
fn syntax_line_only_when_written() {
    assert_eq!(
        s("message A { optional int32 a = 1; }").canonical(),
        "\nmessage A {\n  optional int32 a = 1;\n}\n"
    );
    assert_eq!(
        s("syntax = \"proto2\"; message A { optional int32 a = 1; }").canonical(),
        "syntax = \"proto2\";\n\nmessage A {\n  optional int32 a = 1;\n}\n"
    );
}

const OTHER: &str = "syntax = \"proto3\";\npackage other;\nmessage B { int32 x = 1; }\n";

#[test]
fn references_resolve_by_import_name_in_either_form() {
    let text = "syntax = \"proto3\";\nimport \"other.proto\";\nmessage A { other.B b = 1; }\n";
    let a = with_deps(text, &[("other.proto", OTHER)]);
    assert_eq!(
        a.canonical(),
        "syntax = \"proto3\";\n\nimport \"other.proto\";\n\nmessage A {\n  other.B b = 1;\n}\n"
    );
    // The reference stored as a base64 descriptor works the same.
    let other_b64 = with_deps(OTHER, &[]).serialized();
    let b = with_deps(text, &[("other.proto", &other_b64)]);
    assert_eq!(b.canonical(), a.canonical());
    assert_eq!(
        ProtoSchema::parse(text, &[]).unwrap_err(),
        "Invalid protobuf schema definition: import 'other.proto' not found"
    );
    // Well-known types need no reference.
    let ts = "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nimport \"google/protobuf/struct.proto\";\nmessage T { google.protobuf.Timestamp t = 1; google.protobuf.Struct s = 2; }\n";
    assert_eq!(s(ts).message_indexes("T"), Some(vec![0]));
}

#[test]
fn a_broken_reference_is_named() {
    let err = ProtoSchema::parse(
        "syntax = \"proto3\";\nimport \"other.proto\";\nmessage A {}\n",
        &[("other.proto".to_string(), "message {".to_string())],
    )
    .unwrap_err();
    assert_eq!(
        err,
        "reference 'other.proto': Could not parse Protobuf - Syntax error in :1:9: expected an identifier, but found '{'"
    );
}

// ---------------------------------------------------------------------------------------
// Compatibility
// ---------------------------------------------------------------------------------------

const V1: &str = r#"syntax = "proto3";
package shop;
message Order {
  int32 id = 1;
  string note = 2;
  Item item = 3;
  map<string, int32> counts = 4;
  oneof payment { string card = 5; string iban = 6; }
  message Item { string sku = 1; }
}
message Audit { string who = 1; }
"#;

fn v1_with(from: &str, to: &str) -> ProtoSchema {
    assert!(V1.contains(from), "{from}");
    s(&V1.replacen(from, to, 1))
}

#[test]
fn adding_removing_and_renaming_fields_is_compatible() {
    let v1 = s(V1);
    for v2 in [
        v1_with("string note = 2;", "string note = 2; int64 extra = 7;"),
        v1_with("string note = 2;", ""),
        v1_with("string note = 2;", "string comment = 2;"),
        v1_with("int32 id = 1;", "int64 id = 1;"),
        v1_with("int32 id = 1;", "bool id = 1;"),
        v1_with("string note = 2;", "bytes note = 2;"),
        v1_with("string note = 2;", "repeated string note = 2;"),
        v1_with("message Audit", "message Extra {}\nmessage Audit"),
        v1_with("oneof payment { string card = 5; string iban = 6; }", ""),
        v1_with("string iban = 6;", "string iban = 6; string paypal = 8;"),
    ] {
        assert_eq!(v2.can_read(&v1), Ok(()), "{}", v2.canonical());
    }
}

fn err(kind: &str, path: &str, description: &str) -> String {
    format!(
        "{{errorType:\"{kind}\", description:\"{}\"}}",
        description.replace("{p}", path)
    )
}

#[test]
fn a_scalar_changing_wire_group_is_incompatible() {
    let v2 = v1_with("int32 id = 1;", "string id = 1;");
    assert_eq!(
        v2.can_read(&s(V1)),
        Err(vec![err(
            "FIELD_SCALAR_KIND_CHANGED",
            "#/Order/1",
            "The kind of a SCALAR field at path '{p}' in the new schema does not match its kind in the old schema"
        )])
    );
    // FORWARD: the old schema reads the new one's data; the words swap.
    assert_eq!(
        s(V1).can_read_as(&v2, "old", "new"),
        Err(vec![err(
            "FIELD_SCALAR_KIND_CHANGED",
            "#/Order/1",
            "The kind of a SCALAR field at path '{p}' in the old schema does not match its kind in the new schema"
        )])
    );
}

#[test]
fn incompatible_changes_are_reported_as_confluent_words_them() {
    let v1 = s(V1);
    let cases = [
        (
            v1_with("int32 id = 1;", "Item id = 1;"),
            "FIELD_KIND_CHANGED",
            "#/Order/1",
            "The type of a field at path '{p}' in the new schema does not match the old schema",
        ),
        (
            v1_with("message Audit { string who = 1; }", ""),
            "MESSAGE_REMOVED",
            "#/Audit",
            "The new schema is missing a MESSAGE type at path '{p}' in the old schema",
        ),
        (
            v1_with("package shop;", "package store;"),
            "PACKAGE_CHANGED",
            "#/",
            "The package at '{p}' in the new schema does not match the package in the old schema",
        ),
        (
            v1_with("Item item = 3;", "Audit item = 3;"),
            "FIELD_NAMED_TYPE_CHANGED",
            "#/Order/3",
            "The type of a MESSAGE field at path '{p}' in the new schema does not match its type in the old schema",
        ),
        (
            v1_with("string iban = 6;", ""),
            "ONEOF_FIELD_REMOVED",
            "#/Order/payment/6",
            "The new schema is missing a oneof field at path '{p}' in the old schema",
        ),
        (
            v1_with(
                "int32 id = 1;\n  string note = 2;",
                "oneof key { int32 id = 1; string note = 2; }",
            ),
            "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
            "#/Order/key",
            "Multiple fields in the oneof at path '{p}' in the new schema are outside a oneof in the old schema",
        ),
        (
            s(&V1
                .replace("string note = 2;", "")
                .replace("string iban = 6;", "string iban = 6; string note = 2;")),
            "FIELD_MOVED_TO_EXISTING_ONEOF",
            "#/Order/payment",
            "A field in the oneof at path '{p}' in the new schema is outside an existing oneof in the old schema",
        ),
        (
            v1_with("map<string, int32> counts", "map<string, string> counts"),
            "FIELD_SCALAR_KIND_CHANGED",
            "#/Order/4",
            "The kind of a SCALAR field at path '{p}' in the new schema does not match its kind in the old schema",
        ),
        (
            v1_with("map<string, int32> counts = 4;", "int32 counts = 4;"),
            "FIELD_KIND_CHANGED",
            "#/Order/4",
            "The type of a field at path '{p}' in the new schema does not match the old schema",
        ),
        (
            v1_with("string card = 5;", "int32 card = 5;"),
            "FIELD_SCALAR_KIND_CHANGED",
            "#/Order/payment/5",
            "The kind of a SCALAR field at path '{p}' in the new schema does not match its kind in the old schema",
        ),
        (
            v1_with("string sku = 1;", "double sku = 1;"),
            "FIELD_SCALAR_KIND_CHANGED",
            "#/Order/Item/1",
            "The kind of a SCALAR field at path '{p}' in the new schema does not match its kind in the old schema",
        ),
    ];
    for (v2, kind, path, description) in cases {
        assert_eq!(
            v2.can_read(&v1),
            Err(vec![err(kind, path, description)]),
            "{}",
            v2.canonical()
        );
    }
}

#[test]
fn numeric_label_changes_count_only_between_written_labels() {
    let old = s("syntax = \"proto3\";\nmessage A { optional int32 n = 1; string t = 2; }");
    let new = s("syntax = \"proto3\";\nmessage A { repeated int32 n = 1; repeated string t = 2; }");
    assert_eq!(
        new.can_read(&old),
        Err(vec![err(
            "FIELD_NUMERIC_LABEL_CHANGED",
            "#/A/1",
            "The label for a NUMERIC field at path '{p}' in the new schema does not match its label in the old schema"
        )])
    );
    // A proto3 field without a label has none to compare (Confluent's rule).
    let unlabeled = s("syntax = \"proto3\";\nmessage A { int32 n = 1; }");
    let repeated = s("syntax = \"proto3\";\nmessage A { repeated int32 n = 1; }");
    assert_eq!(repeated.can_read(&unlabeled), Ok(()));
}

#[test]
fn required_fields_may_be_neither_added_nor_removed() {
    let old = s("syntax = \"proto2\";\nmessage A { required int32 a = 1; }");
    let new = s("syntax = \"proto2\";\nmessage A { optional int32 b = 2; required int32 c = 3; }");
    assert_eq!(
        new.can_read(&old),
        Err(vec![
            err(
                "REQUIRED_FIELD_REMOVED",
                "#/A/1",
                "The new schema is missing a required field at path: '{p}' in the old schema"
            ),
            err(
                "REQUIRED_FIELD_ADDED",
                "#/A/3",
                "A required field  at path '{p}' in the new schema is missing in the old schema"
            ),
        ])
    );
}

#[test]
fn a_changed_message_from_a_reference_makes_the_field_incompatible() {
    let text = "syntax = \"proto3\";\nimport \"other.proto\";\nmessage A { other.B b = 1; }\n";
    let old = with_deps(text, &[("other.proto", OTHER)]);
    let changed = OTHER.replace("int32 x = 1;", "string x = 1;");
    let new = with_deps(text, &[("other.proto", &changed)]);
    assert_eq!(
        new.can_read(&old),
        Err(vec![
            err(
                "FIELD_SCALAR_KIND_CHANGED",
                "#/B/1",
                "The kind of a SCALAR field at path '{p}' in the new schema does not match its kind in the old schema"
            ),
            err(
                "FIELD_NAMED_TYPE_CHANGED",
                "#/A/1",
                "The type of a MESSAGE field at path '{p}' in the new schema does not match its type in the old schema"
            ),
        ])
    );
    // The same reference: nothing to compare.
    assert_eq!(
        with_deps(text, &[("other.proto", OTHER)]).can_read(&old),
        Ok(())
    );
}

#[test]
fn removed_messages_are_listed_in_javas_hash_set_order() {
    // The order Java's HashSet iterates these names (checked against a JVM).
    let old = s("message Order {}\nmessage Item {}\nmessage Customer {}\nmessage Address {}\nmessage Payment {}\nmessage Note {}\n");
    let new = s("message Note {}\n");
    let paths: Vec<String> = new
        .can_read(&old)
        .unwrap_err()
        .iter()
        .map(|e| e.split('\'').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(
        paths,
        ["#/Order", "#/Item", "#/Payment", "#/Address", "#/Customer"]
    );
    assert_eq!(
        diff::java_order_for_test(
            &[
                "A1", "B2", "C3", "D4", "E5", "F6", "G7", "H8", "I9", "J10", "K11", "L12", "M13",
                "N14"
            ],
            &["Z"]
        ),
        [
            "A1", "C3", "E5", "G7", "I9", "Z", "J10", "K11", "L12", "M13", "B2", "D4", "F6", "H8",
            "N14"
        ]
    );
}

#[test]
fn recursive_messages_compare_without_looping() {
    let old = s("syntax = \"proto3\";\nmessage Node { Node next = 1; int32 v = 2; }");
    let new = s("syntax = \"proto3\";\nmessage Node { Node next = 1; string v = 2; }");
    assert_eq!(new.can_read(&old).unwrap_err().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Message indexes
// ---------------------------------------------------------------------------------------

#[test]
fn message_indexes_count_messages_in_declaration_order() {
    let text = "syntax = \"proto3\";\npackage p;\nenum E { X = 0; }\nmessage A { map<string, int32> m = 1; message B {} message C { message D {} } }\nmessage F {}\n";
    let schema = s(text);
    assert_eq!(schema.message_indexes("p.A"), Some(vec![0]));
    // The map's generated entry is not counted (text form).
    assert_eq!(schema.message_indexes("p.A.C"), Some(vec![0, 1]));
    assert_eq!(schema.message_indexes("p.A.C.D"), Some(vec![0, 1, 0]));
    assert_eq!(schema.message_indexes(".p.F"), Some(vec![1]));
    assert_eq!(schema.message_indexes("p.E"), None);
    assert_eq!(schema.message_indexes("p.Nope"), None);
    assert_eq!(schema.message_indexes("A"), None);
    assert_eq!(schema.message_name(&[0, 1, 0]), Some("p.A.C.D".to_string()));
    assert_eq!(schema.message_name(&[]), Some("p.A".to_string()));
    assert_eq!(schema.message_name(&[2]), None);
    assert_eq!(schema.message_name(&[-1]), None);
    // A descriptor lists its map entries as messages, and so do the indexes.
    let shop = s(&b64(&shop_descriptor()));
    assert_eq!(
        shop.message_indexes("shop.Order.AttrsEntry"),
        Some(vec![0, 0])
    );
    assert_eq!(shop.message_indexes("shop.Item"), Some(vec![1]));
}

#[test]
fn a_public_import_wrapper_indexes_the_imported_file() {
    let wrapper = with_deps(
        "syntax = \"proto3\";\nimport public \"other.proto\";\n",
        &[(
            "other.proto",
            "syntax = \"proto3\";\npackage other;\nmessage B {}\nmessage C {}\n",
        )],
    );
    assert_eq!(wrapper.message_indexes("other.C"), Some(vec![1]));
    assert_eq!(wrapper.message_name(&[]), Some("other.B".to_string()));
}

// ---------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------

#[test]
fn json_round_trips_through_wire_bytes() {
    let user = s(USER);
    let json = serde_json::json!({
        "id": 5,
        "fullName": "Ann",
        "addresses": {"home": {"street": "Main"}},
        "created": "2024-01-02T03:04:05Z",
        "status": "ACTIVE",
        "email": "a@b"
    });
    let (indexes, bytes) = user.encode_json(None, &json).unwrap();
    assert_eq!(indexes, vec![0]);
    assert_eq!(
        user.decode_to_json(&indexes, &bytes).unwrap(),
        serde_json::json!({
            "id": 5,
            "fullName": "Ann",
            "addresses": {"home": {"street": "Main"}},
            "tags": [],
            "created": "2024-01-02T03:04:05Z",
            "status": "ACTIVE",
            "email": "a@b"
        })
    );
    let (indexes, bytes) = user
        .encode_json(
            Some("com.example.User.Address"),
            &serde_json::json!({"street": "x"}),
        )
        .unwrap();
    assert_eq!(indexes, vec![0, 0]);
    assert_eq!(bytes, b"\x0a\x01x");
    assert_eq!(
        user.decode_to_json(&[1], b"").unwrap(),
        serde_json::json!({})
    );
}

#[test]
fn bad_data_is_an_error() {
    let user = s(USER);
    assert!(user
        .encode_json(None, &serde_json::json!({"nope": 1}))
        .is_err());
    assert!(user.encode_json(None, &serde_json::json!([1])).is_err());
    assert_eq!(
        user.encode_json(Some("com.example.Nope"), &serde_json::json!({})),
        Err("the schema has no message 'com.example.Nope'".to_string())
    );
    assert!(user.decode_to_json(&[0], b"\xff\xff\xff").is_err());
    assert_eq!(
        user.decode_to_json(&[7], b""),
        Err("no message at index path [7]".to_string())
    );
}

// ---------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    // Every prefix of a schema in both forms: parses or fails, and what parses prints a
    // canonical text that parses back to itself.
    let encoded = b64(&shop_descriptor());
    for text in [USER, encoded.as_str()] {
        for end in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
            if let Ok(schema) = ProtoSchema::parse(&text[..end], &[]) {
                let again = s(&schema.canonical());
                assert_eq!(again.canonical(), schema.canonical());
            }
        }
    }
    // Descriptor bytes with single bytes flipped.
    let bytes = shop_descriptor().encode_to_vec();
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            let _ = ProtoSchema::parse(&general_purpose::STANDARD.encode(&b), &[]);
        }
    }
    // Deep nesting is refused before the parser recurses.
    let deep = format!("message A {{ {} }}", "message B { ".repeat(10_000));
    assert_eq!(
        ProtoSchema::parse(&deep, &[]).unwrap_err(),
        "Could not parse Protobuf - nested deeper than 100 levels"
    );
    let options = format!("option (x) = {};", "{ a ".repeat(10_000));
    assert!(ProtoSchema::parse(&options, &[]).is_err());
    for garbage in [
        "garbage",
        "message {",
        "\u{0}\u{1}",
        "AAAA",
        "====",
        "syntax = \"proto4\";",
    ] {
        assert!(ProtoSchema::parse(garbage, &[]).is_err(), "{garbage}");
    }
    assert_eq!(
        ProtoSchema::parse("syntax = \"proto3\";\nmessage A {\n  int32 a = ;\n}\n", &[])
            .unwrap_err(),
        "Could not parse Protobuf - Syntax error in :3:13: expected an integer, but found ';'"
    );
    assert_eq!(
        ProtoSchema::parse("syntax = \"proto3\";\nmessage A { B b = 1; }", &[]).unwrap_err(),
        "Invalid protobuf schema definition: name 'B' is not defined"
    );
}

#[test]
fn a_field_in_a_missing_oneof_is_refused() {
    let mut file = shop_descriptor();
    file.message_type[1].field[0].oneof_index = Some(3);
    assert_eq!(
        ProtoSchema::parse(&b64(&file), &[]).unwrap_err(),
        "Could not parse Protobuf - field 'sku' names oneof 3, which does not exist"
    );
}

#[test]
fn a_map_entry_of_the_wrong_shape_is_refused() {
    let mut file = shop_descriptor();
    file.message_type[0].nested_type[0].field.pop();
    assert_eq!(
        ProtoSchema::parse(&b64(&file), &[]).unwrap_err(),
        "Invalid protobuf schema definition: map entry 'shop.Order.AttrsEntry' must have exactly the fields key = 1 and value = 2"
    );
}
