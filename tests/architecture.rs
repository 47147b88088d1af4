//! Structural checks: the pure layers stay free of tokio, and the compatibility doc matches
//! the dispatch table.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn protocol_log_group_and_txn_do_not_use_tokio() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for m in [
        "protocol",
        "log",
        "group",
        "txn",
        "replica",
        "controller",
        "share",
    ] {
        let mut files = Vec::new();
        rust_files(&root.join(m), &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                !text.contains("tokio::") && !text.contains("use tokio"),
                "{} uses tokio",
                f.display()
            );
        }
    }
}

#[test]
fn compatibility_doc_lists_exactly_the_served_apis() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/compatibility.md"),
    )
    .unwrap();
    let mut rows = Vec::new();
    for line in doc.lines() {
        // | Produce | 0 | 3–13 |
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4 {
            if let Ok(key) = cells[2].parse::<i16>() {
                let (min, max) = cells[3]
                    .split_once('–')
                    .or_else(|| cells[3].split_once('-'))
                    .unwrap();
                rows.push((
                    key,
                    min.trim().parse::<i16>().unwrap(),
                    max.trim().parse::<i16>().unwrap(),
                ));
            }
        }
    }
    let mut served: Vec<(i16, i16, i16)> = skua::api::APIS
        .iter()
        .map(|e| (e.key as i16, e.min, e.max))
        .collect();
    served.sort();
    rows.sort();
    assert_eq!(
        rows, served,
        "docs/compatibility.md must match src/api APIS"
    );
}
