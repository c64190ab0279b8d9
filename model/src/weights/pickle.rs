//! A small, non-executing reader for the pickles inside PyTorch `.pt` files.
//!
//! Why: fair-esm checkpoints hold `{"model": state_dict, "cfg": {"model": argparse.Namespace}}`, which
//! libtorch's own loader refuses (it cannot construct `argparse.Namespace`). We never execute
//! anything: `GLOBAL`s become [`Value::Global`] names, calls become [`Value::Call`] records, and the
//! tensor rebuild calls are interpreted afterwards by the caller. Only the opcodes `torch.save`
//! emits (protocol 2) are supported; anything else is a clean error.
use std::collections::HashMap;

/// A decoded pickle value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer that fits i64.
    Int(i64),
    /// A float.
    Float(f64),
    /// A unicode string.
    Str(String),
    /// A bytes object.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A dict (or OrderedDict), in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A global reference `module.name`, never resolved.
    Global(String, String),
    /// `callable(*args)` with an optional `__setstate__` state from `BUILD`.
    Call {
        /// What was called (usually a [`Value::Global`]).
        callable: Box<Value>,
        /// The call's arguments (a tuple).
        args: Box<Value>,
        /// State applied by `BUILD`, if any.
        state: Option<Box<Value>>,
    },
    /// A persistent id (PyTorch uses it for storages).
    PersistentId(Box<Value>),
    /// Internal stack marker.
    Mark,
}

impl Value {
    /// Looks up a string key in a dict.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items.iter().find(|(k, _)| matches!(k, Value::Str(s) if s == key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Looks up an attribute of an object built with `BUILD` (e.g. an `argparse.Namespace`), or a dict key.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Call { state: Some(state), .. } => state.get(key),
            Value::Dict(_) => self.get(key),
            _ => None,
        }
    }

    /// The value as an integer, if it is one (bools count as 0/1).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
}

/// Decodes one pickle. Errors are plain messages; the caller adds the file name.
pub fn parse(data: &[u8]) -> Result<Value, String> {
    Machine { data, pos: 0, stack: Vec::new(), memo: HashMap::new() }.run()
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or("truncated pickle")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or("truncated pickle line")?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
    fn utf8(&mut self, n: usize) -> Result<Value, String> {
        let b = self.take(n)?;
        Ok(Value::Str(String::from_utf8(b.to_vec()).map_err(|_| "invalid utf-8 string in pickle")?))
    }
    fn pop(&mut self) -> Result<Value, String> {
        self.stack.pop().ok_or_else(|| "pickle stack underflow".to_string())
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let m = self.stack.iter().rposition(|v| *v == Value::Mark).ok_or("pickle MARK not found")?;
        let items = self.stack.split_off(m + 1);
        self.stack.pop();
        Ok(items)
    }
    fn top(&mut self) -> Result<&mut Value, String> {
        self.stack.last_mut().ok_or_else(|| "pickle stack underflow".to_string())
    }
    fn set_items(&mut self, items: Vec<Value>) -> Result<(), String> {
        if !items.len().is_multiple_of(2) {
            return Err("odd number of items for SETITEMS".into());
        }
        let target = self.top()?;
        let dict = match target {
            Value::Dict(d) => d,
            // OrderedDict() and friends: keep the items as the call's state.
            Value::Call { state, .. } => {
                if state.is_none() {
                    *state = Some(Box::new(Value::Dict(Vec::new())));
                }
                match state.as_deref_mut() {
                    Some(Value::Dict(d)) => d,
                    _ => return Err("SETITEMS on an object with non-dict state".into()),
                }
            }
            other => return Err(format!("SETITEMS on {other:?}")),
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            dict.push((k, v));
        }
        Ok(())
    }

    fn run(mut self) -> Result<Value, String> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.stack.push(Value::Mark),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(v as i64))
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64))
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(v as i64))
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes.
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    if n > 8 {
                        return Err("integer too large in pickle".into());
                    }
                    let mut v: i64 = 0;
                    for (i, &byte) in b.iter().enumerate() {
                        v |= (byte as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v))
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes(b.try_into().map_err(|_| "bad float")?);
                    self.stack.push(Value::Float(v))
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.utf8(n)?;
                    self.stack.push(v)
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.utf8(n)?;
                    self.stack.push(v)
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(b))
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(b))
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name))
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(m, n)),
                        _ => return Err("STACK_GLOBAL needs two strings".into()),
                    }
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    let v = self.top()?.clone();
                    self.memo.insert(k, v);
                }
                b'r' => {
                    let k = self.u32()?;
                    let v = self.top()?.clone();
                    self.memo.insert(k, v);
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    let v = self.top()?.clone();
                    self.memo.insert(k, v);
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    let v = self.memo.get(&k).cloned().ok_or("pickle memo key missing")?;
                    self.stack.push(v)
                }
                b'j' => {
                    let k = self.u32()?;
                    let v = self.memo.get(&k).cloned().ok_or("pickle memo key missing")?;
                    self.stack.push(v)
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items))
                }
                0x85 => {
                    let a = self.pop()?;
                    self.stack.push(Value::Tuple(vec![a]))
                }
                0x86 => {
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.stack.push(Value::Tuple(vec![a, b]))
                }
                0x87 => {
                    let c = self.pop()?;
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.stack.push(Value::Tuple(vec![a, b, c]))
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.top()? {
                        Value::List(l) => l.push(v),
                        _ => return Err("APPEND on a non-list".into()),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::List(l) => l.extend(items),
                        _ => return Err("APPENDS on a non-list".into()),
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Dict(Vec::new()));
                    self.set_items(items)?
                }
                b'R' | 0x81 => {
                    // REDUCE / NEWOBJ: record the call, never execute it.
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = match &callable {
                        Value::Global(m, n) if m == "collections" && n == "OrderedDict" => Value::Dict(Vec::new()),
                        _ => Value::Call { callable: Box::new(callable), args: Box::new(args), state: None },
                    };
                    self.stack.push(v)
                }
                b'b' => {
                    let state = self.pop()?;
                    // BUILD on an OrderedDict or other plain value: nothing to keep.
                    if let Value::Call { state: s, .. } = self.top()? {
                        *s = Some(Box::new(state));
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.stack.push(Value::PersistentId(Box::new(pid)))
                }
                other => return Err(format!("unsupported pickle opcode 0x{other:02x} at byte {}", self.pos - 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_protocol2_dict_with_namespace() {
        // pickle.dumps({"model": argparse.Namespace(encoder_layers=6, token_dropout=True)}, protocol=2)
        let data: &[u8] = b"\x80\x02}q\x00X\x05\x00\x00\x00modelq\x01cargparse\nNamespace\nq\x02)\x81q\x03}q\x04(X\x0e\x00\x00\x00encoder_layersq\x05K\x06X\r\x00\x00\x00token_dropoutq\x06\x88ubs.";
        let v = parse(data).unwrap();
        let ns = v.get("model").unwrap();
        assert_eq!(ns.attr("encoder_layers").and_then(Value::as_int), Some(6));
        assert_eq!(ns.attr("token_dropout"), Some(&Value::Bool(true)));
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(parse(b"\x80\x02}q\x00X\x05\x00").is_err());
        assert!(parse(b"\x80\x02\xff").unwrap_err().contains("unsupported pickle opcode 0xff"));
    }
}
