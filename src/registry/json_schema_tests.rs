use super::*;
use serde_json::json;

fn s(text: &str) -> JsonSchema {
    JsonSchema::parse(text, &[]).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn j(v: Value) -> JsonSchema {
    s(&v.to_string())
}

fn deps(text: &str, deps: &[(&str, Value)]) -> JsonSchema {
    let deps: Vec<(String, String)> = deps
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    JsonSchema::parse(text, &deps).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The errorTypes of `new.can_read(old)`'s errors (empty when compatible).
fn errors(new: &JsonSchema, old: &JsonSchema) -> Vec<String> {
    match new.can_read(old) {
        Ok(()) => Vec::new(),
        Err(e) => e
            .iter()
            .map(|m| {
                let rest = m.strip_prefix("{errorType:\"").unwrap_or(m);
                rest.split('"').next().unwrap_or(rest).to_string()
            })
            .collect(),
    }
}

/// Every difference (compatible ones too) as "TYPE #/path", sorted.
fn changes(old: &JsonSchema, new: &JsonSchema) -> Vec<String> {
    let mut v: Vec<String> = diff(old, new)
        .unwrap()
        .iter()
        .map(|d| format!("{} #/{}", d.ty.name(), d.path))
        .collect();
    v.sort();
    v
}

#[test]
fn canonical_is_compact_json_whatever_the_formatting() {
    let pretty = "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"b\": { \"type\": \"integer\" },\n    \"a\": { \"type\": \"string\", \"maxLength\": 1.0 }\n  }\n}\n";
    let compact = r#"{"properties":{"a":{"maxLength":1.0,"type":"string"},"b":{"type":"integer"}},"type":"object"}"#;
    assert_eq!(
        JsonSchema::parse(pretty, &[]).map(|s| s.canonical()),
        Err("#/properties/a/maxLength: expected type: Integer, found: Number".to_string())
    );
    let pretty = pretty.replace("1.0", "1");
    let want = r#"{"properties":{"a":{"maxLength":1,"type":"string"},"b":{"type":"integer"}},"type":"object"}"#;
    assert_eq!(s(&pretty).canonical(), want);
    assert_eq!(s(&compact.replace("1.0", "1")).canonical(), want);
    assert_eq!(s(" true ").canonical(), "true");
    assert_eq!(
        s(r#"{"maximum": 1.5, "minimum": 1}"#).canonical(),
        r#"{"maximum":1.5,"minimum":1}"#
    );
}

#[test]
fn invalid_schemas_are_rejected_with_a_message() {
    let cases: &[(&str, &str)] = &[
        (
            "5",
            "Invalid JSON schema: expected an object or boolean at the root, found NUMBER",
        ),
        (
            "\"string\"",
            "Invalid JSON schema: expected an object or boolean at the root, found STRING",
        ),
        (
            "[]",
            "Invalid JSON schema: expected an object or boolean at the root, found ARRAY",
        ),
        (
            "null",
            "Invalid JSON schema: expected an object or boolean at the root, found NULL",
        ),
        (
            r#"{"type": 5}"#,
            "#/type: expected type is one of JSONArray or String, found: Integer",
        ),
        (r#"{"type": "strin"}"#, "#: unknown type: [strin]"),
        (
            r#"{"type": ["string", 1]}"#,
            "#/type: expected type: String, found: Integer",
        ),
        (
            r#"{"properties": {"a": {"type": "foo"}}}"#,
            "#/properties/a: unknown type: [foo]",
        ),
        (
            r#"{"properties": 5}"#,
            "#/properties: expected type: JSONObject, found: Integer",
        ),
        (
            r#"{"properties": {"a": 5}}"#,
            "#/properties/a: expected type is one of Boolean or JSONObject, found: Integer",
        ),
        (
            r#"{"type": "string", "minLength": "3"}"#,
            "#/minLength: expected type: Integer, found: String",
        ),
        (
            r#"{"required": [1]}"#,
            "#/required: expected type: String, found: Integer",
        ),
        (
            r#"{"items": 5}"#,
            "#/items: expected type is one of JSONArray or JSONObject, found: Integer",
        ),
        (
            r#"{"allOf": {}}"#,
            "#/allOf: expected type: JSONArray, found: JSONObject",
        ),
        (
            r#"{"anyOf": [5]}"#,
            "#/anyOf/0: expected type is one of Boolean or JSONObject, found: Integer",
        ),
        (r#"{"multipleOf": 0}"#, "#: multipleOf should not be 0"),
        (
            r#"{"pattern": "("}"#,
            "#/pattern: invalid regular expression [(]",
        ),
        (
            r#"{"title": 5}"#,
            "#/title: expected type: String, found: Integer",
        ),
        (
            r#"{"additionalProperties": 5}"#,
            "#/additionalProperties: expected type is one of Boolean or JSONObject, found: Integer",
        ),
        (
            r#"{"enum": 5}"#,
            "#/enum: expected type: JSONArray, found: Integer",
        ),
        (
            r#"{"$ref": 5}"#,
            "#/$ref: expected type: String, found: Integer",
        ),
        (
            r##"{"$ref": "#/definitions/missing"}"##,
            "#: unresolved $ref '#/definitions/missing': no schema at that pointer",
        ),
        (
            r#"{"$ref": "other.json"}"#,
            "#: unresolved $ref 'other.json': no referenced schema has that name",
        ),
        (
            r##"{"$ref": "#nowhere"}"##,
            "#: unresolved $ref '#nowhere': no schema has that anchor",
        ),
        (
            r#"{"$schema": "http://json-schema.org/draft-04/schema#", "exclusiveMinimum": 3}"#,
            "#/exclusiveMinimum: expected type: Boolean, found: Integer",
        ),
        (
            r#"{"exclusiveMinimum": true}"#,
            "#/exclusiveMinimum: expected type: Number, found: Boolean",
        ),
    ];
    for (text, msg) in cases {
        assert_eq!(
            JsonSchema::parse(text, &[]).err().as_deref(),
            Some(*msg),
            "{text}"
        );
    }
    let e = JsonSchema::parse("{\"type\": ", &[]).err().unwrap();
    assert!(e.starts_with("Invalid JSON: "), "{e}");
    let e = JsonSchema::parse("{}", &[("d".into(), "{".into())])
        .err()
        .unwrap();
    assert!(
        e.starts_with("Invalid JSON in referenced schema 'd': "),
        "{e}"
    );
    // Accepted as Confluent does: look-ahead patterns (valid in Java, unchecked here), unused
    // definitions (never loaded), unknown keywords, draft-04 booleans.
    for ok in [
        r#"{"pattern": "^(?=a)a$"}"#,
        r#"{"definitions": {"x": {"type": 5}}, "type": "string"}"#,
        r#"{"x-custom": [1, 2], "type": "object"}"#,
        r#"{"$schema": "http://json-schema.org/draft-04/schema#", "minimum": 1, "exclusiveMinimum": true}"#,
        r#"{"$ref": "http://json-schema.org/draft-07/schema#"}"#,
        "false",
    ] {
        assert!(JsonSchema::parse(ok, &[]).is_ok(), "{ok}");
    }
}

#[test]
fn optional_property_added_to_an_open_content_model_is_incompatible_in_strict_mode() {
    let old = j(json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    let new = j(json!({"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "integer"}}}));
    assert_eq!(
        new.can_read(&old),
        Err(vec![
            "{errorType:\"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL\", description:\"The new schema has an open content model and has a property or item at path '#/properties/b' which is missing in the old schema'}".to_string()
        ])
    );
    // FORWARD: the old schema reads the new data (a property removed from an open model).
    assert_eq!(old.can_read_labelled(&new, "old", "new"), Ok(()));
    assert_eq!(
        changes(&new, &old),
        vec!["PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL #/properties/b"]
    );
    // A required property: incompatible too; an empty-schema property: compatible.
    let req = j(json!({"type": "object", "required": ["b"], "properties": {
        "a": {"type": "string"}, "b": {"type": "integer"}}}));
    assert_eq!(
        errors(&req, &old),
        vec!["REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"]
    );
    let empty = j(json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {}}}));
    assert_eq!(new_ok(&empty, &old), Ok(()));
}

fn new_ok(new: &JsonSchema, old: &JsonSchema) -> Result<(), Vec<String>> {
    new.can_read(old)
}

#[test]
fn closed_content_models() {
    let old = j(json!({"type": "object", "additionalProperties": false,
        "properties": {"a": {"type": "string"}}}));
    let new = j(json!({"type": "object", "additionalProperties": false,
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}));
    // Adding an optional property to a closed model: compatible.
    assert_eq!(new.can_read(&old), Ok(()));
    assert_eq!(
        changes(&old, &new),
        vec!["OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"]
    );
    // Removing one from a closed model: incompatible.
    assert_eq!(
        old.can_read(&new),
        Err(vec![
            "{errorType:\"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL\", description:\"The new has a closed content model and is missing a property or item present at path '#/properties/b' in the old schema'}".to_string()
        ])
    );
    // A required property without / with a default.
    let req = j(
        json!({"type": "object", "additionalProperties": false, "required": ["b"],
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}),
    );
    assert_eq!(
        errors(&req, &old),
        vec!["REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"]
    );
    let req_default = j(
        json!({"type": "object", "additionalProperties": false, "required": ["b"],
        "properties": {"a": {"type": "string"}, "b": {"type": "integer", "default": 0}}}),
    );
    assert_eq!(req_default.can_read(&old), Ok(()));
    // Opening the model is compatible, closing it is not.
    let open = j(json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    assert_eq!(open.can_read(&old), Ok(()));
    assert_eq!(
        old.can_read(&open),
        Err(vec![
            "{errorType:\"ADDITIONAL_PROPERTIES_REMOVED\", description:\"The keyword at path '#/additionalProperties' in the new schema is not present in the old schema'}".to_string()
        ])
    );
    // Partially open (additionalProperties is a schema): an added property must fit it.
    let partial = j(
        json!({"type": "object", "additionalProperties": {"type": "string"},
        "properties": {"a": {"type": "string"}}}),
    );
    let fits = j(
        json!({"type": "object", "additionalProperties": {"type": "string"},
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}),
    );
    let misfits = j(
        json!({"type": "object", "additionalProperties": {"type": "string"},
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}),
    );
    assert_eq!(fits.can_read(&partial), Ok(()));
    assert_eq!(
        errors(&misfits, &partial),
        vec![
            "TYPE_CHANGED",
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
        ]
    );
}

#[test]
fn string_and_number_constraints() {
    let max10 = j(json!({"type": "string", "maxLength": 10}));
    let max5 = j(json!({"type": "string", "maxLength": 5}));
    assert_eq!(
        max5.can_read(&max10),
        Err(vec![
            "{errorType:\"MAX_LENGTH_DECREASED\", description:\"The value at path '#/maxLength' in the new schema is less than its value in the old schema'}".to_string()
        ])
    );
    assert_eq!(max10.can_read(&max5), Ok(()));
    let plain = j(json!({"type": "string"}));
    assert_eq!(plain.can_read(&max5), Ok(()));
    assert_eq!(errors(&max5, &plain), vec!["MAX_LENGTH_ADDED"]);
    let pat = j(json!({"type": "string", "pattern": "^a"}));
    assert_eq!(errors(&pat, &plain), vec!["PATTERN_ADDED"]);
    assert_eq!(plain.can_read(&pat), Ok(()));
    let pat2 = j(json!({"type": "string", "pattern": "^b"}));
    assert_eq!(errors(&pat2, &pat), vec!["PATTERN_CHANGED"]);
    let min3 = j(json!({"type": "string", "minLength": 3}));
    assert_eq!(errors(&min3, &plain), vec!["MIN_LENGTH_ADDED"]);

    let number = j(json!({"type": "number"}));
    let integer = j(json!({"type": "integer"}));
    assert_eq!(number.can_read(&integer), Ok(()));
    assert_eq!(
        integer.can_read(&number),
        Err(vec![
            "{errorType:\"TYPE_NARROWED\", description:\"A type at path '#/' is different between the new schema and the old schema'}".to_string()
        ])
    );
    assert_eq!(errors(&plain, &integer), vec!["TYPE_CHANGED"]);
    let max100 = j(json!({"type": "integer", "maximum": 100, "minimum": 0}));
    let max50 = j(json!({"type": "integer", "maximum": 50}));
    assert_eq!(errors(&max50, &max100), vec!["MAXIMUM_DECREASED"]);
    assert_eq!(
        changes(&max100, &max50),
        vec!["MAXIMUM_DECREASED #/maximum", "MINIMUM_REMOVED #/minimum"]
    );
    let m2 = j(json!({"type": "number", "multipleOf": 2}));
    let m4 = j(json!({"type": "number", "multipleOf": 4}));
    let m3 = j(json!({"type": "number", "multipleOf": 3}));
    assert_eq!(errors(&m4, &m2), vec!["MULTIPLE_OF_EXPANDED"]);
    assert_eq!(m2.can_read(&m4), Ok(()));
    assert_eq!(errors(&m3, &m2), vec!["MULTIPLE_OF_CHANGED"]);
    let half = j(json!({"type": "number", "multipleOf": 0.5}));
    assert_eq!(
        changes(&half, &j(json!({"type": "number", "multipleOf": 10}))),
        vec!["MULTIPLE_OF_EXPANDED #/multipleOf"]
    );
    let ex = j(json!({"exclusiveMaximum": 10}));
    assert_eq!(
        errors(&j(json!({"exclusiveMaximum": 5})), &ex),
        vec!["EXCLUSIVE_MAXIMUM_DECREASED"]
    );
}

#[test]
fn required_attributes() {
    let old = j(json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    let req =
        j(json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}));
    assert_eq!(
        req.can_read(&old),
        Err(vec![
            "{errorType:\"REQUIRED_ATTRIBUTE_ADDED\", description:\"The keyword at path '#/required/a' in the new schema is not present in the old schema'}".to_string()
        ])
    );
    assert_eq!(old.can_read(&req), Ok(()));
    let with_default = j(json!({"type": "object", "required": ["a"],
        "properties": {"a": {"type": "string", "default": "x"}}}));
    assert_eq!(with_default.can_read(&old), Ok(()));
}

#[test]
fn enums() {
    let ab = j(json!({"enum": ["a", "b"]}));
    let abc = j(json!({"enum": ["a", "b", "c"]}));
    let ax = j(json!({"enum": ["a", "x"]}));
    assert_eq!(abc.can_read(&ab), Ok(()));
    assert_eq!(
        ab.can_read(&abc),
        Err(vec![
            "{errorType:\"ENUM_ARRAY_NARROWED\", description:\"An array or combined type at path '#/enum' has fewer elements in the new schema than the old schema'}".to_string()
        ])
    );
    assert_eq!(errors(&ax, &ab), vec!["ENUM_ARRAY_CHANGED"]);
    // With a type the schema is allOf[enum, string]: Confluent reports the unmatched branch.
    let typed_ab = j(json!({"type": "string", "enum": ["a", "b"]}));
    let typed_a = j(json!({"type": "string", "enum": ["a"]}));
    assert_eq!(
        errors(&typed_a, &typed_ab),
        vec!["COMBINED_TYPE_SUBSCHEMAS_CHANGED"]
    );
    assert_eq!(typed_ab.can_read(&typed_a), Ok(()));
    assert_eq!(
        errors(&j(json!({"const": 2})), &j(json!({"const": 1}))),
        vec!["ENUM_ARRAY_CHANGED"]
    );
}

#[test]
fn combined_schemas() {
    let two = j(json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}));
    let three = j(json!({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}));
    assert_eq!(three.can_read(&two), Ok(()));
    assert_eq!(
        two.can_read(&three),
        Err(vec![
            "{errorType:\"SUM_TYPE_NARROWED\", description:\"An array or combined type at path '#/' has fewer elements in the new schema than the old schema'}".to_string()
        ])
    );
    // A plain schema becoming a union that contains it: compatible; the reverse is not.
    let string = j(json!({"type": "string"}));
    let nullable = j(json!({"type": ["string", "null"]}));
    assert_eq!(nullable.can_read(&string), Ok(()));
    assert_eq!(changes(&string, &nullable), vec!["SUM_TYPE_EXTENDED #/"]);
    assert_eq!(errors(&string, &nullable), vec!["TYPE_CHANGED"]);
    // allOf: more constraints are incompatible, fewer compatible.
    let all2 = j(json!({"allOf": [{"type": "string"}, {"maxLength": 5}]}));
    let all3 = j(json!({"allOf": [{"type": "string"}, {"maxLength": 5}, {"minLength": 1}]}));
    assert_eq!(errors(&all3, &all2), vec!["PRODUCT_TYPE_EXTENDED"]);
    assert_eq!(all2.can_read(&all3), Ok(()));
    // Changing anyOf to oneOf is a criterion change; oneOf to anyOf extends.
    let any = j(json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}));
    assert_eq!(any.can_read(&two), Ok(()));
    assert_eq!(errors(&two, &any), vec!["COMBINED_TYPE_CHANGED"]);
    // A branch changed in an incompatible way.
    let changed = j(json!({"oneOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]}));
    assert_eq!(
        errors(&changed, &two),
        vec!["COMBINED_TYPE_SUBSCHEMAS_CHANGED"]
    );
    // not: the negated schema must not widen.
    let not_a = j(json!({"not": {"enum": ["a"]}}));
    let not_ab = j(json!({"not": {"enum": ["a", "b"]}}));
    assert_eq!(not_a.can_read(&not_ab), Ok(()));
    assert_eq!(errors(&not_ab, &not_a), vec!["NOT_TYPE_EXTENDED"]);
}

#[test]
fn arrays() {
    let items = j(json!({"type": "array", "items": {"type": "integer"}}));
    let wider = j(json!({"type": "array", "items": {"type": "number"}, "maxItems": 3}));
    assert_eq!(
        changes(&items, &wider),
        vec!["MAX_ITEMS_ADDED #/maxItems", "TYPE_EXTENDED #/items"]
    );
    assert_eq!(errors(&items, &wider), vec!["TYPE_NARROWED"]);
    assert_eq!(errors(&wider, &items), vec!["MAX_ITEMS_ADDED"]);
    let unique = j(json!({"type": "array", "items": {"type": "integer"}, "uniqueItems": true}));
    assert_eq!(errors(&unique, &items), vec!["UNIQUE_ITEMS_ADDED"]);
    assert_eq!(items.can_read(&unique), Ok(()));
    let tuple =
        j(json!({"type": "array", "items": [{"type": "string"}], "additionalItems": false}));
    let tuple2 = j(
        json!({"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false}),
    );
    assert_eq!(tuple2.can_read(&tuple), Ok(()));
    assert_eq!(
        errors(&tuple, &tuple2),
        vec!["ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"]
    );
    let untyped = j(json!({"type": "array"}));
    assert_eq!(errors(&items, &untyped), vec!["SCHEMA_ADDED"]);
}

#[test]
fn refs_to_definitions_and_to_dependencies_are_followed() {
    let def = |max: u32| {
        j(
            json!({"definitions": {"S": {"type": "string", "maxLength": max}},
            "type": "object", "properties": {"a": {"$ref": "#/definitions/S"}}}),
        )
    };
    assert_eq!(def(10).can_read(&def(5)), Ok(()));
    assert_eq!(
        def(5).can_read(&def(10)),
        Err(vec![
            "{errorType:\"MAX_LENGTH_DECREASED\", description:\"The value at path '#/properties/a/maxLength' in the new schema is less than its value in the old schema'}".to_string()
        ])
    );
    // $defs, and a "#/$defs/X" ref to a body under definitions (Confluent bridges them).
    let defs =
        j(json!({"$defs": {"S": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/S"}}}));
    let bridged = j(
        json!({"definitions": {"S": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/S"}}}),
    );
    assert_eq!(errors(&bridged, &defs), vec!["TYPE_CHANGED"]);
    // A dependency named by its reference name.
    let root = r#"{"type":"object","properties":{"c":{"$ref":"customer.json"}}}"#;
    let v1 = json!({"type": "object", "properties": {"name": {"type": "string"}}});
    let v2 = json!({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}});
    let old = deps(root, &[("customer.json", v1.clone())]);
    let new = deps(root, &[("customer.json", v2.clone())]);
    assert_eq!(
        new.can_read(&old),
        Err(vec![
            "{errorType:\"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL\", description:\"The new schema has an open content model and has a property or item at path '#/properties/c/properties/age' which is missing in the old schema'}".to_string()
        ])
    );
    assert_eq!(old.can_read(&new), Ok(()));
    // Relative to the root's $id, with a fragment into the dependency, and a dependency that
    // refers to another one.
    let root = r#"{"$id":"https://example.com/schemas/order.json","type":"object",
        "properties":{"c":{"$ref":"customer.json#/definitions/Name"}}}"#;
    let dep = json!({"definitions": {"Name": {"$ref": "name.json"}}});
    let name = json!({"type": "string", "maxLength": 20});
    let s1 = deps(
        root,
        &[("name.json", name.clone()), ("customer.json", dep.clone())],
    );
    let name2 = json!({"type": "string", "maxLength": 10});
    let s2 = deps(root, &[("name.json", name2), ("customer.json", dep)]);
    assert_eq!(errors(&s2, &s1), vec!["MAX_LENGTH_DECREASED"]);
    assert_eq!(
        s1.validate(&json!({"c": "x".repeat(21)})),
        Err(vec!["#/c: expected maxLength: 20, actual: 21".to_string()])
    );
    assert_eq!(s1.validate(&json!({"c": "ok"})), Ok(()));
}

#[test]
fn recursive_schemas_terminate() {
    let tree = |value_type: &str| {
        j(
            json!({"$ref": "#/definitions/node", "definitions": {"node": {
            "type": "object",
            "properties": {
                "value": {"type": value_type},
                "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}
            }}}}),
        )
    };
    assert_eq!(tree("integer").can_read(&tree("integer")), Ok(()));
    assert_eq!(tree("number").can_read(&tree("integer")), Ok(()));
    // Reported at the first level and, by the fixpoint pass, again through the cycle.
    assert_eq!(
        changes(&tree("integer"), &tree("string")),
        vec![
            "TYPE_CHANGED #/properties/children/items/properties/value",
            "TYPE_CHANGED #/properties/value"
        ]
    );
    // Pure reference cycles load, compare, and fail validation instead of looping.
    for text in [
        r##"{"$ref": "#"}"##,
        r##"{"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}, "$ref": "#/definitions/a"}"##,
        r##"{"allOf": [{"$ref": "#"}]}"##,
    ] {
        let c = s(text);
        assert_eq!(c.can_read(&c), Ok(()), "{text}");
        assert_eq!(
            c.validate(&json!(1)),
            Err(vec!["#: the schema recurses too deeply".to_string()]),
            "{text}"
        );
    }
    // Values are validated through the recursion.
    let t = tree("integer");
    assert_eq!(
        t.validate(&json!({"value": 1, "children": [{"value": 2, "children": []}]})),
        Ok(())
    );
    assert_eq!(
        t.validate(&json!({"value": 1, "children": [{"value": "x"}]})),
        Err(vec![
            "#/children/0/value: expected type: Integer, found: String".to_string()
        ])
    );
}

/// Cross-branch memoization must not hide a change behind a recursive cycle (Confluent runs
/// the comparison to a fixpoint for this).
#[test]
fn recursion_does_not_mask_an_incompatible_change() {
    let schema = |t0: &str, t1: &str| {
        let obj = |id: &str, next: &str| {
            json!({"type": "object", "properties": {
            "id": {"type": id}, "ref": {"oneOf": [{"$ref": format!("#/definitions/{next}")}]}}})
        };
        j(
            json!({"definitions": {"T0": obj(t0, "T2"), "T1": obj(t1, "T2"), "T2": obj("string", "T0")},
            "oneOf": [{"$ref": "#/definitions/T0"}, {"$ref": "#/definitions/T1"}]}),
        )
    };
    let old = schema("integer", "boolean");
    let new = schema("boolean", "number");
    assert!(new.can_read(&old).is_err());
    assert_eq!(old.can_read(&old), Ok(()));
}

/// Many oneOf branches whose properties refer back to the union: memoized pairs keep this
/// quadratic, not exponential.
#[test]
fn wide_recursive_unions_compare_quickly() {
    let schema = |branches: usize, props: usize, last: &str| {
        let mut defs = serde_json::Map::new();
        defs.insert(
            "Id".into(),
            json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}),
        );
        defs.insert(
            "ProductOrId".into(),
            json!({"oneOf": [{"$ref": "#/definitions/Id"}, {"$ref": "#/definitions/Product"}]}),
        );
        let mut union = Vec::new();
        for b in 0..branches {
            let mut p = serde_json::Map::new();
            for i in 0..props {
                p.insert(
                    format!("ref{i}"),
                    json!({"$ref": "#/definitions/ProductOrId"}),
                );
            }
            let tag = if b + 1 == branches {
                last.to_string()
            } else {
                format!("t{b}")
            };
            p.insert("tag".into(), json!({"type": "string", "const": tag}));
            defs.insert(
                format!("T{b}"),
                json!({"type": "object", "required": ["tag"], "properties": p}),
            );
            union.push(json!({"$ref": format!("#/definitions/T{b}")}));
        }
        defs.insert("Product".into(), json!({"oneOf": union}));
        j(json!({"definitions": defs, "$ref": "#/definitions/Product"}))
    };
    let a = schema(12, 5, "t11");
    assert_eq!(a.can_read(&a), Ok(()));
    let b = schema(12, 5, "changed");
    assert_eq!(errors(&b, &a), vec!["COMBINED_TYPE_SUBSCHEMAS_CHANGED"]);
}

/// A comparison too big for the budget fails with a message instead of running on.
#[test]
fn oversized_comparisons_stop_at_the_budget() {
    let wide =
        |n: usize| j(json!({"oneOf": (0..n).map(|i| json!({"const": i})).collect::<Vec<_>>()}));
    assert_eq!(wide(300).can_read(&wide(300)), Ok(()));
    let big = wide(750);
    assert_eq!(
        big.can_read(&big),
        Err(vec![
            "The schemas are too large or too deeply nested to check their compatibility"
                .to_string()
        ])
    );
}

#[test]
fn ids_change_the_base_of_references() {
    // A nested $id makes "item.json" resolve next to it; an anchor-style $id is found by name.
    let root = r##"{"$id": "http://example.com/root.json",
        "properties": {
            "a": {"$id": "http://example.com/nested/a.json", "$ref": "item.json"},
            "b": {"$ref": "#B"},
            "c": {"$ref": "http://example.com/nested/a.json"}},
        "definitions": {"b": {"$id": "#B", "type": "integer"}},
        "x-props": {"properties": {"$id": "not-a-scope"}}}"##;
    let item = json!({"type": "string"});
    let sc = deps(root, &[("nested/item.json", item)]);
    assert_eq!(sc.validate(&json!({"a": "s", "b": 1, "c": "s"})), Ok(()));
    assert_eq!(
        sc.validate(&json!({"a": 1, "b": "x"})).unwrap_err(),
        vec![
            "#/a: expected type: String, found: Integer",
            "#/b: expected type: Integer, found: String"
        ]
    );
    // The URI resolved against the base wins over a dependency of the same bare name (which
    // is still found when nothing matches the resolved URI: lenient, Confluent is stricter).
    let both = deps(
        root,
        &[
            ("item.json", json!({"type": "integer"})),
            ("nested/item.json", json!({"type": "string"})),
        ],
    );
    assert_eq!(both.validate(&json!({"a": "s"})), Ok(()));
    let bare = deps(root, &[("item.json", json!({"type": "integer"}))]);
    assert_eq!(bare.validate(&json!({"a": 1})), Ok(()));
}

#[test]
fn malformed_input_never_panics() {
    let good = r##"{"$schema":"http://json-schema.org/draft-07/schema#","$id":"http://x/y.json","title":"T",
        "definitions":{"n":{"type":["string","null"],"maxLength":3,"pattern":"^a"}},
        "type":"object","additionalProperties":{"$ref":"#/definitions/n"},"required":["a"],
        "properties":{"a":{"$ref":"#/definitions/n"},"b":{"type":"array","items":[{"type":"integer","minimum":1}],
        "additionalItems":false,"uniqueItems":true,"contains":{"const":1}},"c":{"oneOf":[true,{"not":{"enum":[1]}}]},
        "d":{"if":{"type":"string"},"then":{"minLength":1},"else":{"type":"number","multipleOf":0.5}}},
        "patternProperties":{"^x-":{}},"dependencies":{"a":["b"],"c":{"required":["d"]}}}"##;
    let full = s(good);
    let mut seen = 0;
    for end in 0..good.len() {
        if let Ok(p) = JsonSchema::parse(&good[..end], &[]) {
            seen += 1;
            let _ = p.can_read(&full);
            let _ = full.can_read(&p);
        }
    }
    assert_eq!(seen, 0, "every strict prefix of an object is invalid JSON");
    // Deterministic garbage: random bytes, and keywords with values of every JSON type.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..2000 {
        let len = (x % 40) as usize;
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let alphabet = b"{}[]\":,0123456789.eE+-truefalsnl \\$#/abc";
            bytes.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(p) = JsonSchema::parse(&text, &[("d".into(), text.to_string())]) {
            let _ = p.can_read(&full);
            let _ = full.can_read(&p);
            let _ = p.validate(&json!({"a": [1, "x", null]}));
        }
    }
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(0.5),
        json!("x"),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!({"a": {}}),
    ];
    let keywords = [
        "type",
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "dependencies",
        "propertyNames",
        "items",
        "additionalItems",
        "contains",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "$ref",
        "$id",
        "title",
        "default",
        "minItems",
        "uniqueItems",
        "prefixItems",
        "unevaluatedProperties",
        "$defs",
    ];
    for draft in [
        "",
        "http://json-schema.org/draft-04/schema#",
        "https://json-schema.org/draft/2020-12/schema",
    ] {
        for k in keywords {
            for v in &values {
                let mut o = serde_json::Map::new();
                if !draft.is_empty() {
                    o.insert("$schema".into(), json!(draft));
                }
                o.insert(k.to_string(), v.clone());
                if let Ok(p) = JsonSchema::parse(&Value::Object(o).to_string(), &[]) {
                    let _ = p.can_read(&full);
                    let _ = full.can_read(&p);
                    for i in &values {
                        let _ = p.validate(i);
                    }
                }
            }
        }
    }
    // Nesting beyond serde_json's limit, and a long chain of references.
    let deep = format!("{}{}", "{\"not\":".repeat(200), "}".repeat(200));
    assert!(JsonSchema::parse(&deep, &[]).is_err());
    let mut defs = serde_json::Map::new();
    for i in 0..300 {
        defs.insert(
            format!("d{i}"),
            json!({"$ref": format!("#/definitions/d{}", i + 1)}),
        );
    }
    defs.insert("d300".into(), json!({"type": "string"}));
    let chain = json!({"definitions": defs, "$ref": "#/definitions/d0"}).to_string();
    assert_eq!(
        JsonSchema::parse(&chain, &[]).err().as_deref(),
        Some("#/definitions/d128: schema nested too deeply (more than 128 levels)")
    );
}

#[test]
fn validate_accepts_and_rejects_instances() {
    let schema = j(json!({
        "type": "object",
        "required": ["id", "name"],
        "additionalProperties": false,
        "definitions": {"tag": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8}},
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "minLength": 1},
            "price": {"type": "number", "exclusiveMaximum": 100, "multipleOf": 0.25},
            "tags": {"type": "array", "items": {"$ref": "#/definitions/tag"}, "uniqueItems": true},
            "kind": {"enum": ["a", "b"]},
            "v": {"const": 1},
            "contact": {"oneOf": [
                {"type": "object", "required": ["email"]},
                {"type": "object", "required": ["phone"]}
            ]},
            "maybe": {"type": ["string", "null"]},
            "neg": {"not": {"type": "string"}}
        }
    }));
    assert_eq!(
        schema.validate(
            &json!({"id": 1, "name": "n", "price": 9.75, "tags": ["a", "b"],
            "kind": "a", "v": 1.0, "contact": {"email": "e"}, "maybe": null, "neg": 3})
        ),
        Ok(())
    );
    assert_eq!(
        schema.validate(&json!({"id": 0, "name": "", "extra": 1})),
        Err(vec![
            "#: extraneous key [extra] is not permitted".to_string(),
            "#/id: 0 is not greater or equal to 1".to_string(),
            "#/name: expected minLength: 1, actual: 0".to_string(),
        ])
    );
    let check = |v: Value| schema.validate(&v).unwrap_err();
    assert_eq!(
        check(json!({"name": "n"})),
        vec!["#: required key [id] not found"]
    );
    assert_eq!(
        check(json!({"id": 1.5, "name": "n"})),
        vec!["#/id: expected type: Integer, found: Number"]
    );
    assert_eq!(
        check(json!("x")),
        vec!["#: expected type: JSONObject, found: String"]
    );
    assert_eq!(
        check(json!({"id": 1, "name": "n", "price": 100})),
        vec!["#/price: 100 is not less than 100"]
    );
    assert_eq!(
        check(json!({"id": 1, "name": "n", "price": 1.1})),
        vec!["#/price: 1.1 is not a multiple of 0.25"]
    );
    assert_eq!(
        check(json!({"id": 1, "name": "n", "tags": ["ok", "Bad", "ok"]})),
        vec![
            "#/tags/1: string [Bad] does not match pattern ^[a-z]+$",
            "#/tags: array items are not unique"
        ]
    );
    assert_eq!(
        check(json!({"id": 1, "name": "n", "kind": "c"})),
        vec!["#/kind: \"c\" is not a valid enum value"]
    );
    assert_eq!(
        check(json!({"id": 1, "name": "n", "v": 2})),
        vec!["#/v: 2 does not match the const value"]
    );
    assert_eq!(
        check(json!({"id": 1, "name": "n", "contact": {"email": "e", "phone": "p"}})),
        vec!["#/contact: 2 subschemas matched instead of one"]
    );
    assert_eq!(
        check(json!({"id": 1, "name": "n", "maybe": 3})),
        vec!["#/maybe: no subschema matched out of the total 2 subschemas"]
    );
    assert_eq!(
        check(json!({"id": 1, "name": "n", "neg": "s"})),
        vec!["#/neg: subject must not be valid against schema"]
    );
    // At most MAX_VIOLATIONS are reported.
    let many: serde_json::Map<String, Value> =
        (0..30).map(|i| (format!("k{i}"), json!(i))).collect();
    let mut many = many;
    many.insert("id".into(), json!(1));
    many.insert("name".into(), json!("n"));
    assert_eq!(check(Value::Object(many)).len(), MAX_VIOLATIONS);
    // Boolean schemas and if/then/else.
    assert_eq!(s("true").validate(&json!([1])), Ok(()));
    assert_eq!(
        s("false").validate(&json!(1)),
        Err(vec!["#: false schema always fails".to_string()])
    );
    let cond =
        j(json!({"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "integer"}}));
    assert_eq!(cond.validate(&json!("ab")), Ok(()));
    assert_eq!(cond.validate(&json!(3)), Ok(()));
    assert_eq!(
        cond.validate(&json!("a")),
        Err(vec!["#: expected minLength: 2, actual: 1".to_string()])
    );
    assert_eq!(
        cond.validate(&json!(1.5)),
        Err(vec!["#: expected type: Integer, found: Number".to_string()])
    );
}

#[test]
fn validate_tuples_drafts_and_unrunnable_patterns() {
    // Draft 7: additionalItems only constrains a tuple.
    let no_tuple = j(json!({"type": "array", "additionalItems": false}));
    assert_eq!(no_tuple.validate(&json!([1, 2])), Ok(()));
    let empty_tuple = j(json!({"type": "array", "items": [], "additionalItems": false}));
    assert_eq!(empty_tuple.validate(&json!([])), Ok(()));
    assert_eq!(
        empty_tuple.validate(&json!([1])),
        Err(vec!["#: expected: [0] array items, found: [1]".to_string()])
    );
    let tuple = j(json!({"items": [{"type": "string"}], "additionalItems": {"type": "integer"}}));
    assert_eq!(tuple.validate(&json!(["a", 1, 2])), Ok(()));
    assert_eq!(
        tuple.validate(&json!([1, "b"])),
        Err(vec![
            "#/0: expected type: String, found: Integer".to_string(),
            "#/1: expected type: Integer, found: String".to_string()
        ])
    );
    // 2020-12: prefixItems, and items:false closing the array after them.
    let modern = j(
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema",
        "prefixItems": [{"type": "string"}], "items": false}),
    );
    assert_eq!(modern.validate(&json!(["a"])), Ok(()));
    assert_eq!(
        modern.validate(&json!(["a", 1])),
        Err(vec!["#: expected: [1] array items, found: [2]".to_string()])
    );
    // Draft 4: boolean exclusiveMinimum.
    let d4 = j(json!({"$schema": "http://json-schema.org/draft-04/schema#",
        "minimum": 1, "exclusiveMinimum": true}));
    assert_eq!(d4.validate(&json!(2)), Ok(()));
    assert_eq!(
        d4.validate(&json!(1)),
        Err(vec!["#: 1 is not greater than 1".to_string()])
    );
    // A pattern the regex crate cannot run is neither applied nor makes keys extraneous.
    let look = j(json!({"patternProperties": {"^(?=x)": {"type": "string"}},
        "additionalProperties": false, "properties": {"s": {"type": "string", "pattern": "(?!a)"}}}));
    assert_eq!(look.validate(&json!({"xa": 1, "s": "a"})), Ok(()));
    // format is not checked.
    assert_eq!(
        j(json!({"format": "email"})).validate(&json!("not an email")),
        Ok(())
    );
}

/// Runs Confluent's own diff fixtures (json-schema-provider/src/test/resources/diff-*.json,
/// trailing commas removed) from the directory in SKUA_JSON_DIFF_FIXTURES; prints every case
/// whose differences (type and path, compared as sorted lists) or verdict differ.
#[test]
#[ignore]
fn confluent_diff_fixtures() {
    let Ok(dir) = std::env::var("SKUA_JSON_DIFF_FIXTURES") else {
        return;
    };
    let mut failures = 0;
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(Value::Array(cases)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for case in cases {
            total += 1;
            let desc = case["description"].as_str().unwrap_or("?").to_string();
            let (o, u) = (
                JsonSchema::parse(&case["original_schema"].to_string(), &[]),
                JsonSchema::parse(&case["update_schema"].to_string(), &[]),
            );
            let (o, u) = match (o, u) {
                (Ok(o), Ok(u)) => (o, u),
                (o, u) => {
                    failures += 1;
                    println!(
                        "{}: {desc}: parse failed {:?} {:?}",
                        path.display(),
                        o.err(),
                        u.err()
                    );
                    continue;
                }
            };
            let mut want: Vec<String> = case["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            want.sort();
            let got = changes(&o, &u);
            let compatible = u.can_read(&o).is_ok();
            if got != want || compatible != case["compatible"].as_bool().unwrap() {
                failures += 1;
                println!(
                    "{}: {desc}\n  want {want:?}\n  got  {got:?}",
                    path.display()
                );
            }
        }
    }
    println!("{failures} of {total} cases differ");
    assert_eq!(failures, 0);
}
