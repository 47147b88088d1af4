//! The Schema Registry (`--schema-registry-listen`) against the real binary over TCP: exact
//! status codes and bodies of Confluent's API, its delete rules and error codes, ids kept
//! across `kill -9`, and malformed or oversized input answered with 4xx.

mod common;

use common::http::{announce_body, delete, get, post_json, put_json, request};
use common::Broker;
use serde_json::{json, Value};

const USER_V1: &str =
    r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"}]}"#;
const USER_V2: &str = r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"age","type":"int","default":0}]}"#;
/// Adds a field without a default: not BACKWARD compatible with v1.
const USER_BAD: &str = r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"email","type":"string"}]}"#;

fn schema(text: &str) -> Value {
    json!({ "schema": text })
}

fn error(r: &common::http::HttpResponse) -> (u16, i64, String) {
    let v = r.json();
    (
        r.status,
        v["error_code"].as_i64().unwrap(),
        v["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn register_read_evolve_and_ids() {
    let b = Broker::start_with_http(&[]);
    let p = b.registry_port.unwrap();

    let r = get(p, "/");
    assert_eq!((r.status, r.json()), (200, json!({})));
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.schemaregistry.v1+json")
    );
    assert_eq!(get(p, "/subjects").json(), json!([]));
    assert_eq!(
        get(p, "/schemas/types").json(),
        json!(["JSON", "PROTOBUF", "AVRO"])
    );
    assert_eq!(get(p, "/contexts").json(), json!(["."]));
    // confluent-kafka's default subject-name strategy asks this first.
    let r = get(
        p,
        "/associations/resources/-/users?resourceType=topic&associationType=value",
    );
    assert_eq!((r.status, r.json()), (200, json!([])));

    let r = post_json(p, "/subjects/users-value/versions", &schema(USER_V1));
    assert_eq!((r.status, r.json()), (200, json!({"id": 1, "version": 1})));
    // The same schema, pretty-printed: the same version, nothing new.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(USER_V1).unwrap()).unwrap();
    let r = post_json(
        p,
        "/subjects/users-value/versions?normalize=False",
        &schema(&pretty),
    );
    assert_eq!((r.status, r.json()), (200, json!({"id": 1, "version": 1})));
    // The same schema under another subject reuses the id.
    let r = post_json(p, "/subjects/other/versions", &schema(USER_V1));
    assert_eq!(r.json(), json!({"id": 1, "version": 1}));

    let r = post_json(p, "/subjects/users-value/versions", &schema(USER_BAD));
    let (status, code, message) = error(&r);
    assert_eq!((status, code), (409, 409));
    assert!(
        message.starts_with("Schema being registered is incompatible with an earlier schema for subject \"users-value\", details: ["),
        "{message}"
    );
    assert!(message.contains("email"), "{message}");
    assert!(
        message.ends_with("{validateFields: 'false', compatibility: 'BACKWARD'}]"),
        "{message}"
    );

    let r = post_json(p, "/subjects/users-value/versions", &schema(USER_V2));
    assert_eq!(r.json(), json!({"id": 2, "version": 2}));
    assert_eq!(get(p, "/subjects").json(), json!(["other", "users-value"]));
    assert_eq!(
        get(p, "/subjects/users-value/versions").json(),
        json!([1, 2])
    );
    assert_eq!(
        get(p, "/subjects/users-value/versions/latest").json(),
        json!({"subject": "users-value", "version": 2, "id": 2, "schemaType": "AVRO", "schema": USER_V2})
    );
    assert_eq!(
        get(p, "/schemas/ids/1").json(),
        json!({"schemaType": "AVRO", "schema": USER_V1})
    );
    let r = get(p, "/schemas/ids/1/schema");
    assert_eq!(r.text(), USER_V1);
    assert_eq!(
        get(p, "/schemas/ids/1/subjects").json(),
        json!(["other", "users-value"])
    );
    assert_eq!(
        get(p, "/schemas/ids/1/versions").json(),
        json!([{"subject": "other", "version": 1}, {"subject": "users-value", "version": 1}])
    );
    assert_eq!(
        error(&get(p, "/schemas/ids/99")),
        (404, 40403, "Schema 99 not found".to_string())
    );

    // Lookup.
    let r = post_json(p, "/subjects/users-value?deleted=False", &schema(USER_V1));
    assert_eq!(r.json()["version"], json!(1));
    assert_eq!(r.json()["id"], json!(1));
    assert_eq!(
        error(&post_json(p, "/subjects/nobody", &schema(USER_V1))),
        (404, 40401, "Subject 'nobody' not found.".to_string())
    );
    assert_eq!(
        error(&post_json(p, "/subjects/users-value", &schema(USER_BAD))),
        (404, 40403, "Schema not found".to_string())
    );

    // Compatibility checks without registering.
    let r = post_json(
        p,
        "/compatibility/subjects/users-value/versions/latest?verbose=True",
        &schema(USER_BAD),
    );
    assert_eq!(r.json()["is_compatible"], json!(false));
    assert!(r.json()["messages"].as_array().unwrap().len() >= 2);
    let r = post_json(
        p,
        "/compatibility/subjects/users-value/versions",
        &schema(USER_V2),
    );
    assert_eq!(r.json(), json!({"is_compatible": true}));

    // A subject with an encoded slash.
    let r = post_json(p, "/subjects/a%2Fb/versions", &schema("\"string\""));
    assert_eq!(r.json(), json!({"id": 3, "version": 1}));
    assert_eq!(get(p, "/subjects/a%2Fb/versions").json(), json!([1]));

    // Bad input: 4xx with Confluent's codes.
    assert_eq!(
        error(&get(p, "/subjects/users-value/versions/abc")).1,
        42202
    );
    assert_eq!(error(&get(p, "/subjects/users-value/versions/0")).1, 42202);
    assert_eq!(
        error(&get(p, "/subjects/users-value/versions/7")),
        (404, 40402, "Version 7 not found.".to_string())
    );
    let r = post_json(p, "/subjects/x/versions", &schema("{\"type\":\"nope\"}"));
    let (status, code, message) = error(&r);
    assert_eq!((status, code), (422, 42201));
    assert!(
        message.starts_with("Invalid schema of type AVRO, details: "),
        "{message}"
    );
    let r = post_json(
        p,
        "/subjects/x/versions",
        &json!({"schema": "\"int\"", "schemaType": "XML"}),
    );
    assert_eq!(error(&r).1, 42201);
    assert_eq!(
        error(&post_json(p, "/subjects/x/versions", &json!({}))),
        (422, 42201, "Empty schema".to_string())
    );
    let r = request(p, "POST", "/subjects/x/versions", &[], b"{not json");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error_code"], json!(400));
    assert_eq!(
        error(&get(p, "/no/such/path")),
        (404, 404, "HTTP 404 Not Found".to_string())
    );
    assert_eq!(error(&delete(p, "/schemas/types")).0, 405);
    let r = announce_body(p, "POST", "/subjects/x/versions", 9 << 20);
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error_code"], json!(413));
    assert_eq!(
        error(&post_json(
            p,
            "/subjects/__GLOBAL/versions",
            &schema("\"int\"")
        ))
        .1,
        42208
    );
    // Still serving.
    assert_eq!(
        get(p, "/subjects/users-value/versions").json(),
        json!([1, 2])
    );
}

#[test]
fn deletes_configs_modes() {
    let b = Broker::start_with_http(&[]);
    let p = b.registry_port.unwrap();
    post_json(p, "/subjects/s/versions", &schema(USER_V1));
    post_json(p, "/subjects/s/versions", &schema(USER_V2));

    // A version: permanent first is refused, soft twice is refused.
    assert_eq!(
        error(&delete(p, "/subjects/s/versions/1?permanent=true")),
        (
            404,
            40407,
            "Subject 's' Version 1 was not deleted first before being permanently deleted"
                .to_string()
        )
    );
    let r = delete(p, "/subjects/s/versions/1");
    assert_eq!((r.status, r.json()), (200, json!(1)));
    assert_eq!(
        error(&delete(p, "/subjects/s/versions/1")),
        (
            404,
            40406,
            "Subject 's' Version 1 was soft deleted.Set permanent=true to delete permanently"
                .to_string()
        )
    );
    assert_eq!(get(p, "/subjects/s/versions").json(), json!([2]));
    assert_eq!(
        get(p, "/subjects/s/versions?deleted=true").json(),
        json!([1, 2])
    );
    let r = get(p, "/subjects/s/versions/1?deleted=true");
    assert_eq!(r.json()["deleted"], json!(true));
    assert_eq!(error(&get(p, "/subjects/s/versions/1")).1, 40402);
    // The soft-deleted schema stays readable by id.
    assert_eq!(get(p, "/schemas/ids/1").status, 200);
    let r = delete(p, "/subjects/s/versions/1?permanent=true");
    assert_eq!((r.status, r.json()), (200, json!(1)));

    // The subject.
    assert_eq!(
        error(&delete(p, "/subjects/s?permanent=true")),
        (
            404,
            40405,
            "Subject 's' was not deleted first before being permanently deleted".to_string()
        )
    );
    assert_eq!(delete(p, "/subjects/s").json(), json!([2]));
    assert_eq!(
        error(&delete(p, "/subjects/s")),
        (
            404,
            40404,
            "Subject 's' was soft deleted.Set permanent=true to delete permanently".to_string()
        )
    );
    assert_eq!(get(p, "/subjects").json(), json!([]));
    assert_eq!(get(p, "/subjects?deleted=true").json(), json!(["s"]));
    assert_eq!(get(p, "/subjects?deletedOnly=true").json(), json!(["s"]));
    assert_eq!(delete(p, "/subjects/s?permanent=true").json(), json!([2]));
    assert_eq!(get(p, "/subjects?deleted=true").json(), json!([]));
    assert_eq!(
        error(&delete(p, "/subjects/s")),
        (404, 40401, "Subject 's' not found.".to_string())
    );
    // Re-registering after a permanent delete: version 1 again; no record holds the old id
    // any more, so the schema gets a new one (ids are never reused for another schema).
    let r = post_json(p, "/subjects/s/versions", &schema(USER_V2));
    assert_eq!(r.json(), json!({"id": 3, "version": 1}));

    // Configs.
    assert_eq!(
        get(p, "/config").json(),
        json!({"compatibilityLevel": "BACKWARD"})
    );
    assert_eq!(
        error(&get(p, "/config/s")),
        (
            404,
            40408,
            "Subject 's' does not have subject-level compatibility configured".to_string()
        )
    );
    assert_eq!(
        get(p, "/config/s?defaultToGlobal=true").json(),
        json!({"compatibilityLevel": "BACKWARD"})
    );
    let r = put_json(p, "/config/s", &json!({"compatibility": "none"}));
    assert_eq!(r.json(), json!({"compatibility": "NONE"}));
    assert_eq!(
        get(p, "/config/s").json(),
        json!({"compatibilityLevel": "NONE"})
    );
    // NONE: an incompatible schema is taken.
    let r = post_json(p, "/subjects/s/versions", &schema(USER_BAD));
    assert_eq!(r.json(), json!({"id": 4, "version": 2}));
    assert_eq!(
        error(&put_json(
            p,
            "/config",
            &json!({"compatibility": "SIDEWAYS"})
        ))
        .1,
        42203
    );
    assert_eq!(
        delete(p, "/config/s").json(),
        json!({"compatibilityLevel": "NONE"})
    );
    assert_eq!(error(&delete(p, "/config/s")).1, 40401);

    // Modes.
    assert_eq!(get(p, "/mode").json(), json!({"mode": "READWRITE"}));
    assert_eq!(error(&get(p, "/mode/s")).1, 40409);
    assert_eq!(
        error(&put_json(p, "/mode", &json!({"mode": "SLEEPY"}))).1,
        42204
    );
    assert_eq!(
        error(&put_json(p, "/mode", &json!({"mode": "IMPORT"}))),
        (
            422,
            42205,
            "Cannot import since found existing subjects".to_string()
        )
    );
    assert_eq!(
        put_json(p, "/mode/s", &json!({"mode": "READONLY"})).json(),
        json!({"mode": "READONLY"})
    );
    assert_eq!(
        error(&post_json(p, "/subjects/s/versions", &schema("\"long\""))).1,
        42205
    );
    assert_eq!(error(&delete(p, "/subjects/s/versions/2")).1, 42205);
    // Other subjects still take writes.
    assert_eq!(
        post_json(p, "/subjects/t/versions", &schema("\"long\"")).status,
        200
    );
    assert_eq!(delete(p, "/mode/s").json(), json!({"mode": "READONLY"}));

    // IMPORT: schemas keep the ids (and versions) they had in another registry.
    let imported = json!({"schema": "\"bytes\"", "id": 100, "version": 5});
    assert_eq!(
        error(&post_json(p, "/subjects/imp/versions", &imported)),
        (422, 42205, "Subject imp is not in import mode".to_string())
    );
    put_json(p, "/mode/imp", &json!({"mode": "IMPORT"}));
    let r = post_json(p, "/subjects/imp/versions", &imported);
    assert_eq!(r.json(), json!({"id": 100, "version": 5}));
    assert_eq!(
        get(p, "/schemas/ids/100").json(),
        json!({"schemaType": "AVRO", "schema": "\"bytes\""})
    );
    // The id of another schema cannot be taken.
    let r = post_json(
        p,
        "/subjects/imp/versions",
        &json!({"schema": "\"float\"", "id": 100}),
    );
    assert_eq!(error(&r).1, 42207);
    delete(p, "/mode/imp");
    // Ids go on after the highest one.
    let r = post_json(p, "/subjects/imp/versions", &schema("\"string\""));
    assert_eq!(r.json(), json!({"id": 101, "version": 6}));
    assert_eq!(
        post_json(p, "/subjects/s/versions?force=true", &schema("\"long\"")).status,
        200
    );
}

#[test]
fn references_resolve_and_protect_what_they_name() {
    let b = Broker::start_with_http(&[]);
    let p = b.registry_port.unwrap();
    let r = post_json(p, "/subjects/base/versions", &schema("\"string\""));
    assert_eq!(r.json(), json!({"id": 1, "version": 1}));
    let with_ref = json!({
        "schema": "\"string\"",
        "references": [{"name": "base", "subject": "base", "version": 1}],
    });
    let r = post_json(p, "/subjects/user/versions", &with_ref);
    assert_eq!(r.json(), json!({"id": 2, "version": 1}));
    let r = get(p, "/subjects/user/versions/1");
    assert_eq!(
        r.json()["references"],
        json!([{"name": "base", "subject": "base", "version": 1}])
    );
    assert_eq!(
        get(p, "/subjects/base/versions/1/referencedby").json(),
        json!([2])
    );
    // The referenced version cannot go while the reference lives.
    assert_eq!(
        error(&delete(p, "/subjects/base/versions/1")),
        (
            422,
            42206,
            "One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=base,version=1}."
                .to_string()
        )
    );
    // An Avro record using a named type defined in a referenced schema.
    let address = r#"{"type":"record","name":"Address","namespace":"geo","fields":[{"name":"street","type":"string"}]}"#;
    assert_eq!(
        post_json(p, "/subjects/address/versions", &schema(address)).json(),
        json!({"id": 3, "version": 1})
    );
    let person = r#"{"type":"record","name":"Person","namespace":"geo","fields":[{"name":"home","type":"Address"}]}"#;
    let r = post_json(
        p,
        "/subjects/person/versions",
        &json!({"schema": person, "references": [{"name": "geo.Address", "subject": "address", "version": -1}]}),
    );
    assert_eq!(r.json(), json!({"id": 4, "version": 1}));
    // Stored with the version `latest` resolved to, and the referenced type by name.
    let r = get(p, "/subjects/person/versions/1").json();
    assert_eq!(
        r["references"],
        json!([{"name": "geo.Address", "subject": "address", "version": 1}])
    );
    assert_eq!(r["schema"], json!(person));
    // Without the reference the type is unknown.
    let r = post_json(p, "/subjects/person2/versions", &schema(person));
    assert_eq!(error(&r).1, 42201);

    // A reference to nothing.
    let r = post_json(
        p,
        "/subjects/user2/versions",
        &json!({"schema": "\"int\"", "references": [{"name": "x", "subject": "nope", "version": 1}]}),
    );
    assert_eq!(error(&r).0, 422);
    assert_eq!(error(&r).1, 42201);
}

#[test]
fn ids_survive_kill_9() {
    let mut b = Broker::start_with_http(&[]);
    let p = b.registry_port.unwrap();
    assert_eq!(
        post_json(p, "/subjects/a/versions", &schema(USER_V1)).json(),
        json!({"id": 1, "version": 1})
    );
    assert_eq!(
        post_json(p, "/subjects/b/versions", &schema("\"string\"")).json(),
        json!({"id": 2, "version": 1})
    );
    put_json(p, "/config/a", &json!({"compatibility": "FULL"}));
    delete(p, "/subjects/b");
    b.kill9();
    b.spawn();
    assert_eq!(get(p, "/subjects").json(), json!(["a"]));
    assert_eq!(
        get(p, "/schemas/ids/1").json(),
        json!({"schemaType": "AVRO", "schema": USER_V1})
    );
    assert_eq!(
        get(p, "/config/a").json(),
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        get(p, "/subjects/b/versions?deleted=true").json(),
        json!([1])
    );
    // The next id continues after the highest one.
    assert_eq!(
        post_json(p, "/subjects/c/versions", &schema("\"long\"")).json(),
        json!({"id": 3, "version": 1})
    );
}
