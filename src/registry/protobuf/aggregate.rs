//! Message-literal option values (`option (my.opt) = { name: "x" tags: ["a", "b"] };`) as
//! the parser hands them over (its tokens joined by single spaces, strings re-escaped), read
//! back into key/value pairs so the printer can lay them out the way Confluent does (one
//! `key: value` per line, a repeated key collected into a list).

use super::model::OptValue;

/// Nesting bound for message literals (the schema text's depth is bounded before parsing;
/// this keeps the reader safe on its own).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(Vec<u8>),
    Word(String),
}

/// The fields of a message literal, or None when the text is not one this reader knows (the
/// caller then keeps the text as it is).
pub(super) fn parse(text: &str) -> Option<Vec<(String, OptValue)>> {
    let toks = tokenize(text)?;
    let mut pos = 0;
    let map = read_map(&toks, &mut pos, 0)?;
    (pos == toks.len()).then_some(map)
}

fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\n' | b'\t' | b'\r' => i += 1,
            q @ (b'"' | b'\'') => {
                i += 1;
                let mut s = Vec::new();
                loop {
                    match *b.get(i)? {
                        c if c == q => break,
                        b'\\' => {
                            let (byte, len) = unescape(&b[i + 1..])?;
                            s.push(byte);
                            i += 1 + len;
                        }
                        c => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b' ' | b'\n' | b'\t' | b'\r') {
                    i += 1;
                }
                out.push(Tok::Word(text.get(start..i)?.to_string()));
            }
        }
    }
    Some(out)
}

/// One escape sequence after a backslash: (byte, length consumed).
fn unescape(b: &[u8]) -> Option<(u8, usize)> {
    let simple = match *b.first()? {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'v' => 0x0b,
        c @ (b'\\' | b'\'' | b'"' | b'?') => c,
        b'x' | b'X' => {
            let hex = b.get(1..3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            return Some((v, 3));
        }
        b'0'..=b'7' => {
            let n = b
                .iter()
                .take(3)
                .take_while(|c| (b'0'..=b'7').contains(c))
                .count();
            let v = u32::from_str_radix(std::str::from_utf8(&b[..n]).ok()?, 8).ok()?;
            return Some((u8::try_from(v).ok()?, n));
        }
        _ => return None,
    };
    Some((simple, 1))
}

fn word(toks: &[Tok], pos: usize) -> Option<&str> {
    match toks.get(pos) {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    }
}

/// Reads `key: value` pairs up to the end or a closing brace.
fn read_map(toks: &[Tok], pos: &mut usize, depth: usize) -> Option<Vec<(String, OptValue)>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut map: Vec<(String, OptValue)> = Vec::new();
    while *pos < toks.len() {
        if matches!(word(toks, *pos), Some("}" | ">")) {
            break;
        }
        let key = match word(toks, *pos)? {
            "[" => {
                let mut k = String::from("[");
                *pos += 1;
                loop {
                    let w = word(toks, *pos)?;
                    *pos += 1;
                    k.push_str(w);
                    if w == "]" {
                        break;
                    }
                }
                k
            }
            w => {
                *pos += 1;
                w.to_string()
            }
        };
        if word(toks, *pos) == Some(":") {
            *pos += 1;
        }
        let value = read_value(toks, pos, depth)?;
        if matches!(word(toks, *pos), Some("," | ";")) {
            *pos += 1;
        }
        match map.iter_mut().find(|(k, _)| *k == key) {
            Some((_, OptValue::List(items))) => items.push(value),
            Some((_, existing)) => {
                let first = std::mem::replace(existing, OptValue::List(Vec::new()));
                *existing = OptValue::List(vec![first, value]);
            }
            None => map.push((key, value)),
        }
    }
    Some(map)
}

fn read_value(toks: &[Tok], pos: &mut usize, depth: usize) -> Option<OptValue> {
    match toks.get(*pos)? {
        Tok::Str(_) => {
            let mut s = Vec::new();
            while let Some(Tok::Str(part)) = toks.get(*pos) {
                s.extend_from_slice(part);
                *pos += 1;
            }
            Some(OptValue::Str(s))
        }
        Tok::Word(w) => match w.as_str() {
            open @ ("{" | "<") => {
                *pos += 1;
                let map = read_map(toks, pos, depth + 1)?;
                let close = if open == "{" { "}" } else { ">" };
                (word(toks, *pos)? == close).then_some(())?;
                *pos += 1;
                Some(OptValue::Map(map))
            }
            "[" => {
                *pos += 1;
                let mut items = Vec::new();
                loop {
                    if word(toks, *pos) == Some("]") {
                        *pos += 1;
                        break;
                    }
                    items.push(read_value(toks, pos, depth + 1)?);
                    if word(toks, *pos) == Some(",") {
                        *pos += 1;
                    }
                }
                Some(OptValue::List(items))
            }
            "-" => {
                *pos += 1;
                let w = word(toks, *pos)?;
                *pos += 1;
                Some(OptValue::Raw(format!("-{w}")))
            }
            "}" | ">" | "]" | ":" | "," | ";" => None,
            w => {
                *pos += 1;
                Some(OptValue::Raw(w.to_string()))
            }
        },
    }
}
