use super::*;

fn s(text: &str) -> AvroSchema {
    AvroSchema::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

const V1: &str = r#"{"type":"record","name":"User","namespace":"com.example","fields":[
    {"name":"id","type":"int"},{"name":"name","type":"string"}]}"#;

#[test]
fn adding_a_field_with_a_default_is_backward_and_forward_compatible() {
    let v2 = s(
        r#"{"type":"record","name":"User","namespace":"com.example","fields":[
        {"name":"id","type":"int"},{"name":"name","type":"string"},
        {"name":"email","type":["null","string"],"default":null}]}"#,
    );
    let v1 = s(V1);
    assert_eq!(v2.can_read(&v1), Ok(()));
    assert_eq!(v1.can_read(&v2), Ok(()));
}

#[test]
fn adding_a_field_without_a_default_is_not_backward_compatible() {
    let v2 = s(
        r#"{"type":"record","name":"User","namespace":"com.example","fields":[
        {"name":"id","type":"int"},{"name":"name","type":"string"},{"name":"age","type":"int"}]}"#,
    );
    let e = v2.can_read(&s(V1)).unwrap_err();
    assert_eq!(
        e,
        vec![
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE: age', location:'/fields/2'}"
                .to_string()
        ]
    );
    // The old schema still reads new data (the extra field is skipped): forward compatible.
    assert_eq!(s(V1).can_read(&v2), Ok(()));
}

#[test]
fn promotions_and_type_changes() {
    assert_eq!(s(r#""long""#).can_read(&s(r#""int""#)), Ok(()));
    assert_eq!(s(r#""double""#).can_read(&s(r#""float""#)), Ok(()));
    assert_eq!(s(r#""string""#).can_read(&s(r#""bytes""#)), Ok(()));
    assert!(s(r#""int""#).can_read(&s(r#""long""#)).is_err());
    assert!(s(r#""string""#).can_read(&s(r#""int""#)).is_err());
    // A field's type narrowed from long to int: the new reader cannot read old longs.
    let narrow = s(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#);
    let wide = s(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#);
    assert_eq!(
        narrow.can_read(&wide).unwrap_err(),
        vec!["{errorType:'TYPE_MISMATCH', location:'/fields/0/type/'}".to_string()]
    );
    assert_eq!(wide.can_read(&narrow), Ok(()));
}

#[test]
fn unions_enums_fixed_arrays_and_maps() {
    // A writer union is readable only if every branch is.
    assert!(s(r#""string""#)
        .can_read(&s(r#"["null","string"]"#))
        .is_err());
    assert_eq!(
        s(r#"["null","string"]"#).can_read(&s(r#""string""#)),
        Ok(())
    );
    assert_eq!(
        s(r#"["null","long"]"#).can_read(&s(r#"["null","int"]"#)),
        Ok(())
    );
    let e2 = s(r#"{"type":"enum","name":"E","symbols":["A","B"]}"#);
    let e3 = s(r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#);
    assert_eq!(e3.can_read(&e2), Ok(()));
    assert_eq!(
        e2.can_read(&e3).unwrap_err(),
        vec!["{errorType:'MISSING_ENUM_SYMBOLS: [C]', location:'/symbols'}".to_string()]
    );
    let e2d = s(r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}"#);
    assert_eq!(e2d.can_read(&e3), Ok(()));
    assert!(s(r#"{"type":"fixed","name":"F","size":4}"#)
        .can_read(&s(r#"{"type":"fixed","name":"F","size":8}"#))
        .is_err());
    assert_eq!(
        s(r#"{"type":"array","items":"long"}"#).can_read(&s(r#"{"type":"array","items":"int"}"#)),
        Ok(())
    );
    assert!(s(r#"{"type":"map","values":"int"}"#)
        .can_read(&s(r#"{"type":"map","values":"string"}"#))
        .is_err());
    // Renamed record: incompatible unless the reader has the old name as an alias.
    let old = s(r#"{"type":"record","name":"a.Old","fields":[]}"#);
    assert!(s(r#"{"type":"record","name":"a.New","fields":[]}"#)
        .can_read(&old)
        .is_err());
    assert_eq!(
        s(r#"{"type":"record","name":"a.New","aliases":["Old"],"fields":[]}"#).can_read(&old),
        Ok(())
    );
}

#[test]
fn recursive_types_and_named_references_parse_and_check() {
    let list = r#"{"type":"record","name":"Node","fields":[
        {"name":"value","type":"int"},{"name":"next","type":["null","Node"],"default":null}]}"#;
    assert_eq!(s(list).can_read(&s(list)), Ok(()));
    let two = s(r#"{"type":"record","name":"P","namespace":"n","fields":[
        {"name":"a","type":{"type":"fixed","name":"Id","size":16}},{"name":"b","type":"Id"},
        {"name":"c","type":"n.Id"}]}"#);
    assert_eq!(two.can_read(&two), Ok(()));
}

#[test]
fn invalid_schemas_are_refused_with_a_message() {
    for bad in [
        "",
        "{",
        r#""Unknown""#,
        r#"{"type":"record","fields":[]}"#,
        r#"{"type":"record","name":"R"}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"a"}]}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
        r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
        r#"{"type":"fixed","name":"F"}"#,
        r#"{"type":"array"}"#,
        r#"[["int"]]"#,
        r#"{"type":"record","name":"1R","fields":[]}"#,
        r#"[{"type":"record","name":"R","fields":[]},{"type":"record","name":"R","fields":[]}]"#,
        "42",
    ] {
        assert!(AvroSchema::parse(bad).is_err(), "{bad} parsed");
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert!(AvroSchema::parse(&deep).is_err());
}

#[test]
fn canonical_text_is_javas_compact_form_whatever_the_layout() {
    let pretty = r#"{
        "namespace": "com.example",
        "fields": [
            {"type": "int", "name": "id", "doc": "the id"},
            {"default": null, "name": "email", "type": ["null", {"type": "string"}]},
            {"name": "kind", "type": {"symbols": ["A", "B"], "name": "Kind", "type": "enum"}},
            {"name": "again", "type": "Kind", "order": "ascending"},
            {"name": "d", "type": {"type": "int", "logicalType": "date"}}
        ],
        "name": "User",
        "type": "record"
    }"#;
    assert_eq!(
        canonical(pretty).unwrap(),
        concat!(
            r#"{"type":"record","name":"User","namespace":"com.example","fields":["#,
            r#"{"name":"id","type":"int","doc":"the id"},"#,
            r#"{"name":"email","type":["null","string"],"default":null},"#,
            r#"{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},"#,
            r#"{"name":"again","type":"Kind"},"#,
            r#"{"name":"d","type":{"type":"int","logicalType":"date"}}]}"#
        )
    );
    // The canonical text is itself canonical, and parses to an equal-reading schema.
    let c = canonical(pretty).unwrap();
    assert_eq!(canonical(&c).unwrap(), c);
    assert_eq!(s(&c).can_read(&s(pretty)), Ok(()));
    assert_eq!(canonical(r#"{"type":"string"}"#).unwrap(), r#""string""#);
    assert_eq!(
        canonical(r#"{"type":"map","values":{"type":"array","items":"long"}}"#).unwrap(),
        r#"{"type":"map","values":{"type":"array","items":"long"}}"#
    );
    assert!(canonical(r#""nope""#).is_err());
}
