//! The fast path of [`crate::audit::canonical`]: a serde `Serializer` that writes canonical
//! JSON straight from a `Serialize` value, without building a `serde_json::Value` first.
//!
//! It must produce exactly the bytes of the reference path (`serde_json::to_value`, then
//! `write_canonical`): object keys sorted by their UTF-8 bytes, no whitespace, scalars written
//! by `serde_json`. Each object's entries are written as they come and, when they did not come
//! in order, moved into order once the object is complete (nested objects are already in order
//! by then, so only whole entries move). Whatever this writer is not certain to write exactly
//! like the reference (non-string map keys, `f32`, 128-bit integers, byte strings, a key that
//! appears twice) makes it give up with [`Unsupported`]; the caller then takes the reference
//! path, so the bytes never depend on which path ran.

use std::cell::Cell;
use std::fmt;

use serde::ser::{self, Serialize};

/// Why the fast path gave up (the caller falls back to the reference path).
#[derive(Debug)]
pub(crate) struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not supported by the canonical fast path")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Unsupported
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

/// Write `value` to `out` in canonical form, or give up (leaving `out` partly written: the
/// caller truncates it).
pub(crate) fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result {
    thread_local! {
        /// The entry stack, kept between calls on this thread (every digest writes one
        /// value, so a fresh stack each time was an allocation per event).
        static STACK: Cell<Vec<Entry>> = const { Cell::new(Vec::new()) };
    }
    // Taken out while in use, so a nested call (none today) would simply start empty.
    let mut stack = STACK.take();
    stack.clear();
    stack.reserve(32);
    let result = value.serialize(Writer {
        out,
        stack: &mut stack,
    });
    stack.clear();
    if stack.capacity() <= 1024 {
        STACK.set(stack);
    }
    result
}

/// A string: copied between quotes when nothing in it needs escaping (serde_json escapes only
/// `"`, `\` and control characters below U+0020), else written by serde_json.
fn string(out: &mut Vec<u8>, s: &str) -> Result {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        scalar(out, s)
    }
}

/// Whether any byte is `"`, `\` or below 0x20, eight bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `w` is below `n` (n <= 128) exactly when this has its high bit set; a borrow
    // can only add false hits above a true one, so "any" is exact.
    let below = |w: u64, n: u64| (w.wrapping_sub(ONES * n) & !w & HIGH) != 0;
    let quote = ONES * u64::from(b'"');
    let backslash = ONES * u64::from(b'\\');
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            return true;
        };
        let w = u64::from_le_bytes(word);
        if below(w, 0x20) || below(w ^ quote, 1) || below(w ^ backslash, 1) {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A scalar, written by serde_json's own serializer (the reference path writes scalars with it too).
fn scalar<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result {
    serde_json::to_writer(out, value).map_err(|_| Unsupported)
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// The entries of every object being written, innermost last (one allocation per value
    /// rather than one per object).
    stack: &'a mut Vec<Entry>,
}

/// A key of an object being written.
enum Key {
    Static(&'static str),
    Owned(String),
}

impl Key {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Static(k) => k.as_bytes(),
            Key::Owned(k) => k.as_bytes(),
        }
    }
}

/// One written entry: its key and where its `"key":value` bytes are in the buffer.
struct Entry {
    key: Key,
    start: usize,
    end: usize,
}

/// An object (map or struct) being written.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    stack: &'a mut Vec<Entry>,
    /// Where the first entry starts (just after `{`).
    body: usize,
    /// Where this object's entries start on the stack.
    base: usize,
    /// A map key waiting for its value.
    pending: Option<String>,
    /// For a variant written as `{"variant":{…}}`: close the outer object too.
    close_outer: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>, stack: &'a mut Vec<Entry>, close_outer: bool) -> Self {
        out.push(b'{');
        let body = out.len();
        let base = stack.len();
        Object {
            out,
            stack,
            body,
            base,
            pending: None,
            close_outer,
        }
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: Key, value: &T) -> Result {
        if self.stack.len() > self.base {
            self.out.push(b',');
        }
        let start = self.out.len();
        match &key {
            Key::Static(k) => string(self.out, k)?,
            Key::Owned(k) => string(self.out, k)?,
        }
        self.out.push(b':');
        value.serialize(Writer {
            out: &mut *self.out,
            stack: &mut *self.stack,
        })?;
        let end = self.out.len();
        self.stack.push(Entry { key, start, end });
        Ok(())
    }

    fn close(self) -> Result {
        let Object {
            out,
            stack,
            body,
            base,
            close_outer,
            ..
        } = self;
        let entries = stack.get_mut(base..).ok_or(Unsupported)?;
        let sorted = entries
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.key.as_bytes() < b.key.as_bytes()));
        if !sorted {
            entries.sort_unstable_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
            if entries
                .windows(2)
                .any(|w| matches!(w, [a, b] if a.key.as_bytes() == b.key.as_bytes()))
            {
                // The reference path keeps the last of repeated keys; leave that to it.
                return Err(Unsupported);
            }
            // Copy the entries, in order, after the written ones, then drop the written ones:
            // no allocation beyond the buffer's own growth.
            let written = out.len();
            for (i, e) in entries.iter().enumerate() {
                if e.start > e.end || e.end > written {
                    return Err(Unsupported);
                }
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_within(e.start..e.end);
            }
            out.drain(body..written);
        }
        stack.truncate(base);
        out.push(b'}');
        if close_outer {
            out.push(b'}');
        }
        Ok(())
    }
}

/// An array being written.
struct Array<'a> {
    out: &'a mut Vec<u8>,
    stack: &'a mut Vec<Entry>,
    first: bool,
    /// For a tuple variant written as `{"variant":[…]}`: close the outer object too.
    close_outer: bool,
}

impl<'a> Array<'a> {
    fn open(out: &'a mut Vec<u8>, stack: &'a mut Vec<Entry>, close_outer: bool) -> Self {
        out.push(b'[');
        Array {
            out,
            stack,
            first: true,
            close_outer,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Writer {
            out: &mut *self.out,
            stack: &mut *self.stack,
        })
    }

    fn close(self) -> Result {
        self.out.push(b']');
        if self.close_outer {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// Write `{"variant":` and return the buffer, for variants that wrap their content.
fn open_variant<'a>(out: &'a mut Vec<u8>, variant: &'static str) -> Result<&'a mut Vec<u8>> {
    out.push(b'{');
    string(out, variant)?;
    out.push(b':');
    Ok(out)
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_i8(self, v: i8) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_i16(self, v: i16) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_i32(self, v: i32) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_i64(self, v: i64) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_u8(self, v: u8) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_u16(self, v: u16) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_u32(self, v: u32) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_u64(self, v: u64) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_i128(self, _v: i128) -> Result {
        Err(Unsupported)
    }
    fn serialize_u128(self, _v: u128) -> Result {
        Err(Unsupported)
    }
    fn serialize_f32(self, _v: f32) -> Result {
        // The reference path widens to f64 first and prints that; leave it to it.
        Err(Unsupported)
    }
    fn serialize_f64(self, v: f64) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_char(self, v: char) -> Result {
        scalar(self.out, &v)
    }
    fn serialize_str(self, v: &str) -> Result {
        string(self.out, v)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result {
        scalar(self.out, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        let out = open_variant(self.out, variant)?;
        value.serialize(Writer {
            out: &mut *out,
            stack: self.stack,
        })?;
        out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>> {
        Ok(Array::open(self.out, self.stack, false))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Array<'a>> {
        Ok(Array::open(self.out, self.stack, false))
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Array<'a>> {
        Ok(Array::open(self.out, self.stack, false))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'a>> {
        Ok(Array::open(
            open_variant(self.out, variant)?,
            self.stack,
            true,
        ))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>> {
        Ok(Object::open(self.out, self.stack, false))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Object<'a>> {
        Ok(Object::open(self.out, self.stack, false))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>> {
        Ok(Object::open(
            open_variant(self.out, variant)?,
            self.stack,
            true,
        ))
    }
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        self.close()
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        self.close()
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.pending = Some(key.serialize(KeyWriter)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        let key = self.pending.take().ok_or(Unsupported)?;
        self.entry(Key::Owned(key), value)
    }
    fn end(self) -> Result {
        if self.pending.is_some() {
            return Err(Unsupported);
        }
        self.close()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.entry(Key::Static(key), value)
    }
    fn end(self) -> Result {
        self.close()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.entry(Key::Static(key), value)
    }
    fn end(self) -> Result {
        self.close()
    }
}

/// Map keys: strings only (the reference path turns other keys into strings its own way).
struct KeyWriter;

impl ser::Serializer for KeyWriter {
    type Ok = String;
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<String, Unsupported>;
    type SerializeTuple = ser::Impossible<String, Unsupported>;
    type SerializeTupleStruct = ser::Impossible<String, Unsupported>;
    type SerializeTupleVariant = ser::Impossible<String, Unsupported>;
    type SerializeMap = ser::Impossible<String, Unsupported>;
    type SerializeStruct = ser::Impossible<String, Unsupported>;
    type SerializeStructVariant = ser::Impossible<String, Unsupported>;

    fn serialize_str(self, v: &str) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String> {
        value.serialize(self)
    }
    fn serialize_bool(self, _v: bool) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_i8(self, _v: i8) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_i16(self, _v: i16) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_i32(self, _v: i32) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_i64(self, _v: i64) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_u8(self, _v: u8) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_u16(self, _v: u16) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_u32(self, _v: u32) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_u64(self, _v: u64) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_f32(self, _v: f32) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _v: f64) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_char(self, _v: char) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Unsupported)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::needs_escape;

    #[test]
    fn needs_escape_finds_every_escaped_byte_anywhere() {
        assert!(!needs_escape(b""));
        assert!(!needs_escape(
            "plain ascii, digits 0123456789 and é ü 漢字 \u{7f}".as_bytes()
        ));
        for len in 0..20 {
            for at in 0..len {
                for bad in [0_u8, 0x1f, b'"', b'\\', b'\n'] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = bad;
                    assert!(needs_escape(&bytes), "{bad:#x} at {at} of {len}");
                }
                for good in [0x20_u8, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xff] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = good;
                    assert!(!needs_escape(&bytes), "{good:#x} at {at} of {len}");
                }
            }
        }
    }
}
