// SPDX-License-Identifier: GPL-2.0
//! Cross-check of the hand-transcribed ids (src/ids.rs) against the uAPI
//! header generated from the spec, shim/include/uapi/linux/bind-dmabuf.h.
//!
//! The header is parsed the way C assigns values: `#define NAME value` lines,
//! and enum members that count up from the previous one unless given `= N`.

use std::collections::HashMap;
use std::path::PathBuf;

fn header_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shim/include/uapi/linux/bind-dmabuf.h")
}

fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        match rest[i + 2..].find("*/") {
            Some(j) => rest = &rest[i + 2 + j + 2..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn eval(expr: &str, known: &HashMap<String, i64>) -> Option<i64> {
    let e = expr
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    if let Some((a, b)) = e.split_once('-') {
        return Some(eval(a, known)? - eval(b, known)?);
    }
    if let Some(h) = e.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok();
    }
    e.parse().ok().or_else(|| known.get(e).copied())
}

/// Every `#define NAME <number>` and enum member of the header.
fn parse_header(src: &str) -> HashMap<String, i64> {
    let src = strip_comments(src);
    let mut vals = HashMap::new();
    for line in src.lines() {
        let mut it = line.split_whitespace();
        if it.next() == Some("#define") {
            if let (Some(name), Some(v)) = (it.next(), it.next()) {
                if let Some(v) = eval(v, &vals) {
                    vals.insert(name.to_string(), v);
                }
            }
        }
    }
    let mut rest = src.as_str();
    while let Some(i) = rest.find("enum") {
        let after = &rest[i + 4..];
        let (Some(open), Some(close)) = (after.find('{'), after.find('}')) else {
            break;
        };
        let body = &after[open + 1..close];
        let mut next = 0i64;
        for item in body.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), eval(v, &vals).expect(item)),
                None => (item, next),
            };
            vals.insert(name.to_string(), value);
            next = value + 1;
        }
        rest = &after[close + 1..];
    }
    vals
}

#[test]
fn ids_match_generated_uapi_header() {
    let path = header_path();
    let src = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run ci/ynl-gen.sh)", path.display()));
    let vals = parse_header(&src);

    assert!(src.contains(&format!(
        "#define BIND_DMABUF_FAMILY_NAME\t\t\"{}\"",
        netmemctl::ids::FAMILY_NAME
    )));

    let mut bad = Vec::new();
    for (name, want) in netmemctl::ids::uapi_names() {
        match vals.get(name) {
            Some(v) if *v as u64 == want => {}
            Some(v) => bad.push(format!("{name}: header {v}, ids.rs {want}")),
            None => bad.push(format!("{name}: not in the header")),
        }
    }
    assert!(
        bad.is_empty(),
        "ids.rs disagrees with {}:\n{}",
        path.display(),
        bad.join("\n")
    );

    // Every attribute / command the header defines is known to ids.rs (the
    // *_MAX helpers aside), so a new spec attribute cannot be missed here.
    let known: Vec<&str> = netmemctl::ids::uapi_names()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let mut unknown: Vec<&String> = vals
        .keys()
        .filter(|k| {
            (k.starts_with("BIND_DMABUF_A_") || k.starts_with("BIND_DMABUF_CMD_"))
                && !k.ends_with("_MAX")
                && !known.contains(&k.as_str())
        })
        .collect();
    unknown.sort();
    assert!(unknown.is_empty(), "not in ids.rs: {unknown:?}");
}

#[test]
fn header_parser() {
    let vals = parse_header(
        "/* c */\n#define X_A\t\t4096\nenum {\n\tA = 1,\n\tB,\n\tC = 16, /* x */\n\tD,\n\n\t__M,\n\tM = (__M - 1)\n};\nenum e { R, T, };\n",
    );
    assert_eq!(vals["X_A"], 4096);
    assert_eq!(vals["B"], 2);
    assert_eq!(vals["D"], 17);
    assert_eq!(vals["M"], 17);
    assert_eq!(vals["T"], 1);
}
