//! Canonical JSON and SHA-256 digests: the bytes every digest in planck is taken over.
//!
//! Canonical form: object keys sorted by their UTF-8 bytes, no insignificant whitespace,
//! numbers and strings as `serde_json` writes them. The same value always gives the same bytes,
//! whatever the key order it was built with and whatever serde_json features are enabled.

use std::cell::RefCell;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Serialize `value` to canonical JSON bytes.
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(512);
    write_canonical_of(value, &mut out)?;
    Ok(out)
}

/// Append the canonical JSON of `value` to `out`.
///
/// Most values are written straight from their `Serialize` impl by a sorting writer
/// (`audit::canonical_writer`); whatever that writer is not sure to write
/// exactly like [`reference_canonical_json`] (non-string map keys, `f32`, 128-bit integers,
/// byte strings, repeated keys, a serialization error) is written by the reference path
/// instead, so the bytes are always the reference bytes.
pub fn write_canonical_of<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    if super::canonical_writer::write(value, out).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    let value = serde_json::to_value(value)?;
    write_canonical(&value, out)
}

/// The reference canonical form: `serde_json::to_value`, then [`write_canonical`]. Slower
/// than [`to_canonical_json`], which always produces the same bytes; kept to define them and
/// to test the fast path against.
pub fn reference_canonical_json<T: Serialize + ?Sized>(
    value: &T,
) -> Result<Vec<u8>, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = Vec::with_capacity(512);
    write_canonical(&value, &mut out)?;
    Ok(out)
}

/// Write an already-built JSON value in canonical form.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // `serde_json::Map` is a BTreeMap (already in order) unless a dependency turns on
            // `preserve_order`; sort only when needed.
            if !entries.is_sorted_by(|a, b| a.0.as_bytes() <= b.0.as_bytes()) {
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            }
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                write_canonical(v, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = [0_u8; 64];
    match hex::encode_to_slice(digest, &mut hex).map(|()| String::from_utf8(hex.to_vec())) {
        Ok(Ok(text)) => text,
        _ => hex::encode(digest),
    }
}

/// SHA-256 (hex) of the canonical JSON of `value`.
pub fn digest_of<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    with_scratch(|bytes| {
        write_canonical_of(value, bytes)?;
        Ok(sha256_hex(bytes))
    })
}

/// Run `f` with an empty byte buffer that is reused across calls on this thread, so that
/// hashing a value allocates nothing for its canonical bytes.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    /// A buffer grown past this is dropped after use rather than kept.
    const KEEP: usize = 64 * 1024;
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bytes) => {
            bytes.clear();
            let result = f(&mut bytes);
            if bytes.capacity() > KEEP {
                *bytes = Vec::new();
            }
            result
        }
        // Only if `f` itself hashed (it does not): fall back to a fresh buffer.
        Err(_) => f(&mut Vec::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": null}});
        let b = json!({"a": {"x": null, "y": [1, 2]}, "b": 1});
        assert_eq!(
            to_canonical_json(&a).unwrap(),
            to_canonical_json(&b).unwrap()
        );
        assert_eq!(
            to_canonical_json(&a).unwrap(),
            br#"{"a":{"x":null,"y":[1,2]},"b":1}"#
        );
    }

    /// Every shape serde can produce, through the fast path and the reference path.
    #[test]
    fn fast_path_writes_the_reference_bytes() {
        use std::collections::{BTreeMap, HashMap};

        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Tagged {
            Zeta {
                z: u8,
                a: Option<String>,
                nested: Inner,
            },
            Unit,
        }
        #[derive(Serialize)]
        struct Inner {
            y: Vec<i64>,
            x: f64,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
            #[serde(rename = "Ä")]
            unicode: char,
            #[serde(rename = "ab")]
            ab: bool,
            #[serde(rename = "a")]
            a: (),
        }
        #[derive(Serialize)]
        enum External {
            Newtype(u32),
            Tuple(i8, String),
            Struct { b: u8, a: u8 },
            Plain,
        }
        #[derive(Serialize)]
        struct Flat {
            outer: u8,
            #[serde(flatten)]
            rest: BTreeMap<String, Value>,
        }
        #[derive(Serialize)]
        struct Wrapper(String);
        #[derive(Serialize)]
        struct Unitish;

        fn same<T: Serialize>(value: &T) {
            let fast = to_canonical_json(value).unwrap();
            let reference = reference_canonical_json(value).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&reference)
            );
        }

        fn fast<T: Serialize>(value: &T) {
            let mut out = Vec::new();
            assert!(crate::audit::canonical_writer::write(value, &mut out).is_ok());
            same(value);
        }

        let inner = || Inner {
            y: vec![-1, 0, i64::MAX],
            x: 0.1 + 0.2,
            skipped: None,
            unicode: 'é',
            ab: true,
            a: (),
        };
        fast(&Tagged::Zeta {
            z: 7,
            a: Some("quote \" and \\ and \u{1} and é".into()),
            nested: inner(),
        });
        fast(&Tagged::Unit);
        fast(&vec![
            External::Newtype(3),
            External::Tuple(-2, "t".into()),
            External::Struct { b: 1, a: 2 },
            External::Plain,
        ]);
        let mut rest = BTreeMap::new();
        rest.insert("zz".to_string(), json!({"k": [1.5, null, "s"], "B": {}}));
        rest.insert("aa".to_string(), json!(u64::MAX));
        fast(&Flat { outer: 1, rest });
        fast(&Wrapper("w".into()));
        fast(&Unitish);
        fast(&json!({"b": 1, "a": {"y": [1, 2], "x": null}, "": [], "é": "", "E": f64::NAN}));
        let mut unordered = HashMap::new();
        for k in ["delta", "alpha", "charlie", "bravo", "Alpha", "alph"] {
            unordered.insert(k.to_string(), k.len());
        }
        fast(&unordered);
        // Shapes the fast path hands to the reference path.
        same(&1.5_f32);
        same(&BTreeMap::from([(3_u8, "three"), (1, "one")]));
        same(&u128::from(u64::MAX));
        same(&i128::from(i64::MIN));
        same(&Some(b"bytes".as_slice()));
    }
}
