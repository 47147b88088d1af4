use super::*;

fn avro(text: &str) -> NewSchema {
    NewSchema {
        schema_type: SchemaType::Avro,
        schema: text.to_string(),
        references: Vec::new(),
    }
}

/// Register and apply the write, as the runtime does after the commit.
fn register(store: &mut Store, subject: &str, text: &str) -> Result<(i32, i32), RegistryError> {
    let r = store.register(subject, &avro(text), |_, _| Ok(()))?;
    if let Some((k, v)) = &r.write {
        store.apply(k, v.as_deref());
    }
    Ok((r.id, r.version))
}

fn apply_all(store: &mut Store, writes: &[Write]) {
    for (k, v) in writes {
        store.apply(k, v.as_deref());
    }
}

#[test]
fn ids_are_global_and_reused_versions_count_up() {
    let mut s = Store::new();
    assert_eq!(register(&mut s, "a", "\"string\""), Ok((1, 1)));
    // Same schema again: same version, nothing written.
    let again = s.register("a", &avro("\"string\""), |_, _| Ok(())).unwrap();
    assert_eq!((again.id, again.version, again.write), (1, 1, None));
    assert_eq!(register(&mut s, "a", "\"int\""), Ok((2, 2)));
    // The same schema under another subject keeps its id.
    assert_eq!(register(&mut s, "b", "\"int\""), Ok((2, 1)));
    assert_eq!(s.subjects(false), vec!["a".to_string(), "b".to_string()]);
    assert_eq!(s.versions("a", false), Ok(vec![1, 2]));
    assert_eq!(s.version("a", -1, false).unwrap().schema, "\"int\"");
    assert_eq!(s.by_id(2).unwrap().schema, "\"int\"");
    assert_eq!(
        s.versions_of_id(2, false),
        vec![("a".to_string(), 2), ("b".to_string(), 1)]
    );
    assert_eq!(s.versions("c", false).unwrap_err().code, 40401);
    assert_eq!(s.version("a", 9, false).unwrap_err().code, 40402);
}

#[test]
fn replaying_the_records_rebuilds_the_same_state() {
    let mut s = Store::new();
    let mut log: Vec<Write> = Vec::new();
    for (subject, text) in [("a", "\"string\""), ("a", "\"int\""), ("b", "\"long\"")] {
        let r = s.register(subject, &avro(text), |_, _| Ok(())).unwrap();
        let w = r.write.unwrap();
        s.apply(&w.0, w.1.as_deref());
        log.push(w);
    }
    let (_, w) = s.delete_version("a", 1, false).unwrap();
    s.apply(&w.0, w.1.as_deref());
    log.push(w);
    // Through the bytes of the topic.
    let mut r = Store::new();
    for (k, v) in &log {
        let k = Key::decode(&k.encode()).unwrap();
        r.apply(&k, v.as_deref());
    }
    assert_eq!(r.subjects(true), s.subjects(true));
    assert_eq!(r.versions("a", true), Ok(vec![1, 2]));
    assert_eq!(r.versions("a", false), Ok(vec![2]));
    // The next id continues after the highest one seen.
    assert_eq!(register(&mut r, "c", "\"bytes\""), Ok((4, 1)));
}

#[test]
fn compatibility_is_checked_against_the_latest_or_every_live_version() {
    let mut s = Store::new();
    register(&mut s, "a", "\"string\"").unwrap();
    register(&mut s, "a", "\"int\"").unwrap();
    let mut seen = Vec::new();
    let e = s
        .register("a", &avro("\"long\""), |level, against| {
            seen = against.iter().map(|v| v.version).collect();
            assert_eq!(level, Level::Backward);
            Err(vec!["reader type: LONG not compatible".into()])
        })
        .unwrap_err();
    assert_eq!(seen, vec![2]);
    assert_eq!((e.status, e.code), (409, 409));
    assert!(e.message.ends_with(
        "details: [reader type: LONG not compatible, {validateFields: 'false', compatibility: 'BACKWARD'}]"
    ), "{}", e.message);
    let (k, v) = Store::set_config(Some("a"), Level::FullTransitive);
    s.apply(&k, v.as_deref());
    s.register("a", &avro("\"long\""), |level, against| {
        seen = against.iter().map(|v| v.version).collect();
        assert_eq!(level, Level::FullTransitive);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![1, 2]);
    let (k, v) = Store::set_config(None, Level::None);
    s.apply(&k, v.as_deref());
    assert_eq!(s.level(Some("b")), Level::None);
    assert_eq!(s.level(Some("a")), Level::FullTransitive);
}

#[test]
fn deletes_follow_confluents_soft_then_permanent_rules() {
    let mut s = Store::new();
    register(&mut s, "a", "\"string\"").unwrap();
    register(&mut s, "a", "\"int\"").unwrap();
    assert_eq!(s.delete_version("a", 1, true).unwrap_err().code, 40407);
    let (v, w) = s.delete_version("a", 1, false).unwrap();
    assert_eq!(v, 1);
    s.apply(&w.0, w.1.as_deref());
    assert_eq!(s.delete_version("a", 1, false).unwrap_err().code, 40406);
    assert_eq!(s.delete_subject("a", true).unwrap_err().code, 40405);
    let (live, writes) = s.delete_subject("a", false).unwrap();
    assert_eq!(live, vec![2]);
    apply_all(&mut s, &writes);
    assert!(s.subjects(false).is_empty());
    assert_eq!(s.subjects(true), vec!["a".to_string()]);
    assert_eq!(s.delete_subject("a", false).unwrap_err().code, 40404);
    // Still readable by id while a record holds it; a new version continues the numbering.
    assert_eq!(s.by_id(1).unwrap().schema, "\"string\"");
    let (all, writes) = s.delete_subject("a", true).unwrap();
    assert_eq!(all, vec![1, 2]);
    apply_all(&mut s, &writes);
    assert!(s.subjects(true).is_empty());
    assert!(s.by_id(1).is_none());
    assert_eq!(s.delete_subject("a", false).unwrap_err().code, 40401);
}

#[test]
fn a_referenced_version_cannot_be_deleted() {
    let mut s = Store::new();
    register(&mut s, "base", "\"string\"").unwrap();
    let with_ref = NewSchema {
        schema_type: SchemaType::Protobuf,
        schema: "import \"base.proto\";".into(),
        references: vec![Reference {
            name: "base.proto".into(),
            subject: "base".into(),
            version: 1,
        }],
    };
    let r = s.register("user", &with_ref, |_, _| Ok(())).unwrap();
    let w = r.write.unwrap();
    s.apply(&w.0, w.1.as_deref());
    assert_eq!(s.referenced_by("base", 1), vec![r.id]);
    assert_eq!(s.delete_version("base", 1, false).unwrap_err().code, 42206);
    assert_eq!(s.delete_subject("base", false).unwrap_err().code, 42206);
}

#[test]
fn a_read_only_subject_refuses_registration() {
    let mut s = Store::new();
    s.apply(
        &Key::Mode {
            subject: Some("a".into()),
        },
        Some(&encode_setting(Some("a"), "mode", "READONLY")),
    );
    assert_eq!(s.mode(Some("a")), "READONLY");
    assert_eq!(s.mode(Some("b")), "READWRITE");
    let e = s
        .register("a", &avro("\"string\""), |_, _| Ok(()))
        .unwrap_err();
    assert_eq!((e.status, e.code), (422, 42205));
    assert!(s.register("b", &avro("\"string\""), |_, _| Ok(())).is_ok());
}
