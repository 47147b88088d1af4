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

const COUNTRY: &str = r#"{"type":"enum","name":"Country","namespace":"geo","symbols":["NO","SE"]}"#;
const ADDRESS: &str = r#"{"type":"record","name":"Address","namespace":"geo","fields":[
    {"name":"city","type":"string"},
    {"name":"country","type":"Country"},
    {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["HOME","WORK"]}}]}"#;

fn deps() -> Vec<(String, String)> {
    vec![
        ("country".to_string(), COUNTRY.to_string()),
        ("address".to_string(), ADDRESS.to_string()),
    ]
}

#[test]
fn references_make_the_named_types_of_dependencies_known() {
    let main = r#"{"type":"record","name":"User","namespace":"app","fields":[
        {"name":"home","type":"geo.Address"},
        {"name":"kind","type":"geo.Kind"},
        {"name":"born","type":["null","geo.Country"],"default":null}]}"#;
    assert_eq!(
        AvroSchema::parse(main).unwrap_err(),
        r#"Undefined name: "geo.Address""#
    );
    let user = AvroSchema::parse_with_refs(main, &deps()).unwrap();
    assert_eq!(user.can_read(&user), Ok(()));
    // The dependencies in the wrong order: Address needs Country first.
    let reversed: Vec<_> = deps().into_iter().rev().collect();
    assert_eq!(
        AvroSchema::parse_with_refs(main, &reversed).unwrap_err(),
        r#"Invalid schema reference address: Undefined name: "geo.Country""#
    );
    // The main schema may not define a type a dependency defines.
    let redefines = r#"{"type":"record","name":"U","fields":[
        {"name":"c","type":{"type":"enum","name":"geo.Country","symbols":["X"]}}]}"#;
    assert_eq!(
        AvroSchema::parse_with_refs(redefines, &deps()).unwrap_err(),
        "Can't redefine: geo.Country"
    );
    // The same dependency twice (two paths to it) is parsed once.
    let mut twice = deps();
    twice.insert(1, ("country-again".to_string(), COUNTRY.to_string()));
    assert!(AvroSchema::parse_with_refs(main, &twice).is_ok());
    assert_eq!(
        AvroSchema::parse_with_refs(main, &[("bad".to_string(), "{".to_string())]).unwrap_err(),
        "Invalid schema reference bad: EOF while parsing an object at line 1 column 1"
    );
}

#[test]
fn compatibility_sees_through_references() {
    let v1 = r#"{"type":"record","name":"User","namespace":"app","fields":[
        {"name":"home","type":"geo.Address"}]}"#;
    let v2 = r#"{"type":"record","name":"User","namespace":"app","fields":[
        {"name":"home","type":"geo.Address"},{"name":"n","type":"int","default":0}]}"#;
    let v1 = AvroSchema::parse_with_refs(v1, &deps()).unwrap();
    let v2 = AvroSchema::parse_with_refs(v2, &deps()).unwrap();
    assert_eq!(v2.can_read(&v1), Ok(()));
    assert_eq!(v1.can_read(&v2), Ok(()));
    // A new version of the referenced Address with a field the old one lacks, no default.
    let address2 = ADDRESS.replace(
        r#"{"name":"city","type":"string"},"#,
        r#"{"name":"city","type":"string"},{"name":"zip","type":"string"},"#,
    );
    let deps2 = vec![
        ("country".to_string(), COUNTRY.to_string()),
        ("address".to_string(), address2),
    ];
    let v1b = r#"{"type":"record","name":"User","namespace":"app","fields":[
        {"name":"home","type":"geo.Address"}]}"#;
    let v1b = AvroSchema::parse_with_refs(v1b, &deps2).unwrap();
    assert_eq!(
        v1b.can_read(&v1).unwrap_err(),
        vec![
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE: zip', location:'/fields/0/type/fields/1'}"
                .to_string()
        ]
    );
    assert_eq!(v1.can_read(&v1b), Ok(()));
}

#[test]
fn canonical_text_with_references_names_the_referenced_types() {
    let main = r#"{
        "type": "record", "namespace": "geo", "name": "Person",
        "fields": [
            {"name": "home", "type": "geo.Address"},
            {"name": "from", "type": "Country"},
            {"name": "other", "type": {"type": "record", "name": "app.Note", "fields": [
                {"name": "where", "type": ["null", "geo.Address"], "default": null}]}}
        ]
    }"#;
    assert_eq!(
        canonical_with_refs(main, &deps()).unwrap(),
        concat!(
            r#"{"type":"record","name":"Person","namespace":"geo","fields":["#,
            r#"{"name":"home","type":"Address"},"#,
            r#"{"name":"from","type":"Country"},"#,
            r#"{"name":"other","type":{"type":"record","name":"Note","namespace":"app","fields":["#,
            r#"{"name":"where","type":["null","geo.Address"],"default":null}]}}]}"#
        )
    );
    // Without its references the schema does not parse.
    assert!(canonical(main).is_err());
    // A type a dependency defines inside another (geo.Kind) is named too.
    assert_eq!(
        canonical_with_refs(r#"{"type":"array","items":"geo.Kind"}"#, &deps()).unwrap(),
        r#"{"type":"array","items":"geo.Kind"}"#
    );
    // The canonical text parses again with the same references.
    let c = canonical_with_refs(main, &deps()).unwrap();
    assert_eq!(canonical_with_refs(&c, &deps()).unwrap(), c);
}

#[test]
fn unions_have_one_branch_per_type_name() {
    for bad in [
        r#"["int","int"]"#,
        r#"["null","string","null"]"#,
        r#"[{"type":"array","items":"int"},{"type":"array","items":"long"}]"#,
        r#"[{"type":"fixed","name":"F","size":1},"F"]"#,
    ] {
        assert!(
            AvroSchema::parse(bad)
                .unwrap_err()
                .starts_with("Duplicate in union"),
            "{bad}"
        );
    }
    // Named types of different names may share a kind.
    assert!(AvroSchema::parse(
        r#"[{"type":"fixed","name":"a.F","size":1},{"type":"fixed","name":"b.F","size":1}]"#
    )
    .is_ok());
}

#[test]
fn a_type_in_the_null_namespace_inside_a_namespaced_one_is_marked() {
    let text = r#"{"type":"record","name":"R","namespace":"a","fields":[
        {"name":"x","type":{"type":"enum","name":"E","namespace":"","symbols":["A"]}},
        {"name":"y","type":"E"}]}"#;
    assert_eq!(
        canonical(text).unwrap(),
        concat!(
            r#"{"type":"record","name":"R","namespace":"a","fields":["#,
            r#"{"name":"x","type":{"type":"enum","name":"E","namespace":"","symbols":["A"]}},"#,
            r#"{"name":"y","type":"E"}]}"#
        )
    );
}
