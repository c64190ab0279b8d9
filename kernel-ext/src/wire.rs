//! The calls between this crate and the kernel library (`libesmdb_kernel_lib.so`): one C function takes a
//! request and returns a reply, both [`Value`]s in the byte format below.
//!
//! Why a byte format of our own rather than Rust types across the boundary: the two sides are compiled
//! separately (this crate by evcxr, the library by the workspace build), with different compilers' layouts and
//! allocators possible, so only bytes and a C ABI may cross. Why not JSON: a parser would cost this crate its
//! "compiles in seconds" (serde's derive); the format is a dozen tags. The library decodes hostile bytes
//! without panicking — a notebook must never be able to abort the kernel.
//!
//! Format: a tag byte, then the payload, little-endian: `Null`, `Bool` (1 byte), `I64`, `F64`, `Handle` (8
//! bytes), `Str`/`Bytes`/`Error` (u64 length + bytes, UTF-8 for text), `F64s` (u64 count + 8 bytes each),
//! `List` (u64 count + values).
use std::fmt;

/// Version of the request/reply contract; the loader refuses a library of another version.
pub const ABI_VERSION: u32 = 1;

/// The library's file stem (`lib<stem>.so` on Linux).
pub const LIBRARY_STEM: &str = "esmdb_kernel_lib";

/// Exported symbol: `extern "C" fn() -> u32`, the library's [`ABI_VERSION`].
pub const SYMBOL_ABI_VERSION: &[u8] = b"esmdb_kernel_abi_version\0";
/// Exported symbol: `extern "C" fn(request: *const u8, len: usize) -> Buffer`, one call.
pub const SYMBOL_CALL: &[u8] = b"esmdb_kernel_call\0";
/// Exported symbol: `extern "C" fn(Buffer)`, frees a reply.
pub const SYMBOL_FREE: &[u8] = b"esmdb_kernel_free\0";

/// A reply's bytes, allocated by the library and freed only by it (`esmdb_kernel_free`).
#[repr(C)]
#[derive(Debug)]
pub struct Buffer {
    /// Start of the bytes.
    pub ptr: *mut u8,
    /// Bytes in use.
    pub len: usize,
    /// Allocated capacity (needed to free it).
    pub cap: usize,
}

/// Deepest nesting of lists a decoder accepts (the replies nest two or three levels).
const MAX_DEPTH: usize = 16;

/// A value in a request or reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Nothing (`None` of an optional argument or result).
    Null,
    /// A flag.
    Bool(bool),
    /// An integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// Text.
    Str(String),
    /// Bytes (PNG, Arrow IPC).
    Bytes(Vec<u8>),
    /// A float column.
    F64s(Vec<f64>),
    /// An object kept by the library (a store, a table).
    Handle(u64),
    /// A sequence of values (arguments, rows).
    List(Vec<Value>),
    /// A failed call: the whole message, causes included.
    Error(String),
}

/// Bytes that are not a [`Value`], or a value of the wrong kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kernel library call: {}", self.0)
    }
}

impl std::error::Error for WireError {}

const NULL: u8 = 0;
const BOOL: u8 = 1;
const I64: u8 = 2;
const F64: u8 = 3;
const STR: u8 = 4;
const BYTES: u8 = 5;
const F64S: u8 = 6;
const HANDLE: u8 = 7;
const LIST: u8 = 8;
const ERROR: u8 = 9;

impl Value {
    /// The encoded bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        let len = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&(n as u64).to_le_bytes());
        match self {
            Value::Null => out.push(NULL),
            Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
            Value::I64(v) => {
                out.push(I64);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::F64(v) => {
                out.push(F64);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Str(s) | Value::Error(s) => {
                out.push(if matches!(self, Value::Str(_)) { STR } else { ERROR });
                len(out, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(BYTES);
                len(out, b.len());
                out.extend_from_slice(b);
            }
            Value::F64s(v) => {
                out.push(F64S);
                len(out, v.len());
                v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            }
            Value::Handle(h) => {
                out.push(HANDLE);
                out.extend_from_slice(&h.to_le_bytes());
            }
            Value::List(items) => {
                out.push(LIST);
                len(out, items.len());
                items.iter().for_each(|v| v.write(out));
            }
        }
    }

    /// Decodes one value that spans all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Value, WireError> {
        let mut reader = Reader { bytes, pos: 0 };
        let value = reader.value(0)?;
        if reader.pos != bytes.len() {
            return Err(WireError(format!("{} bytes left after the value", bytes.len() - reader.pos)));
        }
        Ok(value)
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::I64(_) => "integer",
            Value::F64(_) => "float",
            Value::Str(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::F64s(_) => "float column",
            Value::Handle(_) => "handle",
            Value::List(_) => "list",
            Value::Error(_) => "error",
        }
    }

    fn wrong(&self, wanted: &str) -> WireError {
        WireError(format!("expected {wanted}, got {}", self.kind()))
    }

    /// The text of a `Str`.
    pub fn into_string(self) -> Result<String, WireError> {
        match self {
            Value::Str(s) => Ok(s),
            other => Err(other.wrong("text")),
        }
    }

    /// `None` for `Null`, else the text of a `Str`.
    pub fn into_opt_string(self) -> Result<Option<String>, WireError> {
        match self {
            Value::Null => Ok(None),
            other => other.into_string().map(Some),
        }
    }

    /// The bytes of a `Bytes`.
    pub fn into_bytes(self) -> Result<Vec<u8>, WireError> {
        match self {
            Value::Bytes(b) => Ok(b),
            other => Err(other.wrong("bytes")),
        }
    }

    /// The floats of an `F64s`.
    pub fn into_f64s(self) -> Result<Vec<f64>, WireError> {
        match self {
            Value::F64s(v) => Ok(v),
            other => Err(other.wrong("a float column")),
        }
    }

    /// The items of a `List`.
    pub fn into_list(self) -> Result<Vec<Value>, WireError> {
        match self {
            Value::List(v) => Ok(v),
            other => Err(other.wrong("a list")),
        }
    }

    /// The id of a `Handle`.
    pub fn as_handle(&self) -> Result<u64, WireError> {
        match self {
            Value::Handle(h) => Ok(*h),
            other => Err(other.wrong("a handle")),
        }
    }

    /// The integer of an `I64`.
    pub fn as_i64(&self) -> Result<i64, WireError> {
        match self {
            Value::I64(v) => Ok(*v),
            other => Err(other.wrong("an integer")),
        }
    }

    /// The float of an `F64`.
    pub fn as_f64(&self) -> Result<f64, WireError> {
        match self {
            Value::F64(v) => Ok(*v),
            other => Err(other.wrong("a float")),
        }
    }

    /// The flag of a `Bool`.
    pub fn as_bool(&self) -> Result<bool, WireError> {
        match self {
            Value::Bool(v) => Ok(*v),
            other => Err(other.wrong("a flag")),
        }
    }

    /// The text of a `Str`, borrowed.
    pub fn as_str(&self) -> Result<&str, WireError> {
        match self {
            Value::Str(s) => Ok(s),
            other => Err(other.wrong("text")),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            WireError(format!("truncated: {n} bytes wanted at offset {} of {}", self.pos, self.bytes.len()))
        })?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn eight(&mut self) -> Result<[u8; 8], WireError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(b)
    }

    /// A length prefix, checked against what is left (so a hostile length cannot make us allocate).
    fn len(&mut self, unit: usize) -> Result<usize, WireError> {
        let n = u64::from_le_bytes(self.eight()?);
        let left = (self.bytes.len() - self.pos) as u64;
        if n.saturating_mul(unit as u64) > left {
            return Err(WireError(format!("length {n} at offset {} exceeds the {left} bytes left", self.pos - 8)));
        }
        Ok(n as usize)
    }

    fn text(&mut self) -> Result<String, WireError> {
        let n = self.len(1)?;
        let at = self.pos;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| WireError(format!("text at offset {at} is not UTF-8")))
    }

    fn value(&mut self, depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError(format!("lists nested deeper than {MAX_DEPTH}")));
        }
        let tag = self.take(1)?[0];
        Ok(match tag {
            NULL => Value::Null,
            BOOL => match self.take(1)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(WireError(format!("flag byte {b} at offset {}", self.pos - 1))),
            },
            I64 => Value::I64(i64::from_le_bytes(self.eight()?)),
            F64 => Value::F64(f64::from_le_bytes(self.eight()?)),
            STR => Value::Str(self.text()?),
            ERROR => Value::Error(self.text()?),
            BYTES => {
                let n = self.len(1)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            F64S => {
                let n = self.len(8)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(f64::from_le_bytes(self.eight()?));
                }
                Value::F64s(v)
            }
            HANDLE => Value::Handle(u64::from_le_bytes(self.eight()?)),
            LIST => {
                let n = self.len(1)?; // every value takes at least its tag byte
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::List(items)
            }
            t => return Err(WireError(format!("unknown tag {t} at offset {}", self.pos - 1))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        Value::List(vec![
            Value::Str("db.sql".into()),
            Value::Handle(7),
            Value::Null,
            Value::Bool(true),
            Value::I64(-3),
            Value::F64(0.25),
            Value::F64s(vec![1.0, f64::MAX, -2.5]),
            Value::Bytes(vec![0, 255, 3]),
            Value::List(vec![Value::Str("ünï".into()), Value::Error("esmdb error: x".into())]),
        ])
    }

    #[test]
    fn round_trips() {
        let v = sample();
        assert_eq!(Value::decode(&v.encode()).unwrap(), v);
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(Value::decode(&bytes[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let _ = Value::decode(&b); // must return, whatever it returns
            }
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(Value::decode(&trailing).unwrap_err().0.contains("left after"));
    }

    #[test]
    fn hostile_lengths_and_nesting_are_refused() {
        let mut huge = vec![LIST];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(Value::decode(&huge).unwrap_err().0.contains("exceeds"));
        let mut floats = vec![F64S];
        floats.extend_from_slice(&(u64::MAX / 4).to_le_bytes());
        assert!(Value::decode(&floats).unwrap_err().0.contains("exceeds"));
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.push(LIST);
            deep.extend_from_slice(&1u64.to_le_bytes());
        }
        deep.push(NULL);
        assert!(Value::decode(&deep).unwrap_err().0.contains("nested"));
        assert!(Value::decode(&[42]).unwrap_err().0.contains("unknown tag 42"));
        assert!(Value::decode(&[STR, 1, 0, 0, 0, 0, 0, 0, 0, 0xff]).unwrap_err().0.contains("UTF-8"));
    }

    #[test]
    fn accessors_name_what_they_got() {
        assert_eq!(Value::I64(1).into_string().unwrap_err().0, "expected text, got integer");
        assert_eq!(Value::Null.into_opt_string().unwrap(), None);
        assert_eq!(Value::Handle(3).as_handle().unwrap(), 3);
    }
}
