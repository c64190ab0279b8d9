//! A small, non-executing reader for the pickles inside PyTorch `.pt` files.
//!
//! Why: fair-esm checkpoints hold `{"model": state_dict, "cfg": {"model": argparse.Namespace}}`, which
//! libtorch's own loader refuses (it cannot construct `argparse.Namespace`). We never execute
//! anything: `GLOBAL`s become [`Value::Global`] names, calls become [`Value::Call`] records, and the
//! tensor rebuild calls are interpreted afterwards by the caller. Only the opcodes `torch.save`
//! emits (protocol 2) and plain protocol-4 containers are supported; anything else is a clean error.
//!
//! The pickle memo shares objects: a container is memoized as soon as it is created (`EMPTY_DICT`,
//! `BINPUT`) and only filled afterwards (`MARK ... SETITEMS`), so a later `BINGET` must see the filled
//! container. The machine therefore builds a graph of objects addressed by index — stack slots,
//! memo entries and container elements all hold indices, so every reference sees every mutation —
//! and only at `STOP` copies that graph into the plain [`Value`] tree callers consume. The copy is
//! bounded (depth, total size) and refuses cycles, so hostile input is an error, never a hang, a
//! stack overflow or an out-of-memory abort.
use std::collections::HashMap;

/// Deepest nesting [`parse`] returns. `torch.save` state dicts nest about 7 levels (dict, call, args,
/// persistent id, ...); the bound keeps the copy and the `Value`'s drop off the end of the thread stack.
const MAX_DEPTH: usize = 256;

/// The copied tree may cost at most this many units per input byte (plus [`COPY_SLACK`]); a unit is
/// one value or one byte of string. Real pickles share only small objects (globals, `"cpu"`, a config
/// namespace), so their copies stay within a few units per byte; the bound turns a "billion laughs"
/// pickle (references to references, each doubling the copy) into an error.
const COPY_PER_INPUT_BYTE: usize = 16;
const COPY_SLACK: usize = 1 << 16;

/// A decoded pickle value: a plain tree. An object the pickle references more than once (through its
/// memo) appears as one copy per reference.
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
    let mut machine = Machine { data, pos: 0, objects: Vec::new(), stack: Vec::new(), memo: HashMap::new() };
    let root = machine.run()?;
    let budget = data.len().saturating_mul(COPY_PER_INPUT_BYTE).saturating_add(COPY_SLACK);
    let open = vec![false; machine.objects.len()];
    Copier { objects: &machine.objects, budget, open }.value(root, 0)
}

/// Index of an [`Object`] in [`Machine::objects`].
type Id = usize;

/// An object while the pickle is being read: containers hold [`Id`]s, so the memo and the stack share
/// one mutable object instead of holding copies of it.
#[derive(Debug)]
enum Object {
    /// None, bool, int, float, str, bytes or global: immutable, held as its final value.
    Scalar(Value),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Call {
        callable: Id,
        args: Id,
        state: Option<Id>,
    },
    PersistentId(Id),
}

impl Object {
    /// A name for error messages.
    fn kind(&self) -> &'static str {
        match self {
            Object::Scalar(_) => "a scalar",
            Object::List(_) => "a list",
            Object::Tuple(_) => "a tuple",
            Object::Dict(_) => "a dict",
            Object::Call { .. } => "an object",
            Object::PersistentId(_) => "a persistent id",
        }
    }
}

/// A pickle stack entry: an object, or the `MARK` that opens a run of items.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Mark,
    Obj(Id),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    /// Every object created so far; never shrinks, so an [`Id`] stays valid.
    objects: Vec<Object>,
    stack: Vec<Slot>,
    memo: HashMap<u32, Id>,
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

    /// Creates an object and pushes it.
    fn push(&mut self, object: Object) {
        let id = self.new_object(object);
        self.stack.push(Slot::Obj(id));
    }
    fn new_object(&mut self, object: Object) -> Id {
        self.objects.push(object);
        self.objects.len() - 1
    }
    fn pop(&mut self) -> Result<Id, String> {
        match self.stack.pop() {
            Some(Slot::Obj(id)) => Ok(id),
            Some(Slot::Mark) => Err("unexpected MARK on the pickle stack".into()),
            None => Err("pickle stack underflow".into()),
        }
    }
    /// The items above the topmost MARK, which is removed too.
    fn pop_mark(&mut self) -> Result<Vec<Id>, String> {
        let m = self.stack.iter().rposition(|s| *s == Slot::Mark).ok_or("pickle MARK not found")?;
        let items = self.stack.split_off(m + 1);
        self.stack.pop();
        // Nothing above the topmost MARK is a MARK.
        Ok(items.into_iter().filter_map(|s| if let Slot::Obj(id) = s { Some(id) } else { None }).collect())
    }
    fn top(&self) -> Result<Id, String> {
        match self.stack.last() {
            Some(Slot::Obj(id)) => Ok(*id),
            Some(Slot::Mark) => Err("unexpected MARK on the pickle stack".into()),
            None => Err("pickle stack underflow".into()),
        }
    }
    fn memoize(&mut self, key: u32) -> Result<(), String> {
        let id = self.top()?;
        self.memo.insert(key, id);
        Ok(())
    }
    fn memo_get(&mut self, key: u32) -> Result<(), String> {
        let id = *self.memo.get(&key).ok_or_else(|| format!("pickle memo key {key} missing"))?;
        self.stack.push(Slot::Obj(id));
        Ok(())
    }
    fn append(&mut self, items: Vec<Id>, op: &str) -> Result<(), String> {
        let target = self.top()?;
        match &mut self.objects[target] {
            Object::List(l) => l.extend(items),
            other => return Err(format!("{op} on {}", other.kind())),
        }
        Ok(())
    }
    fn set_items(&mut self, items: Vec<Id>) -> Result<(), String> {
        if !items.len().is_multiple_of(2) {
            return Err("odd number of items for SETITEMS".into());
        }
        let target = self.top()?;
        let dict = match &self.objects[target] {
            Object::Dict(_) => target,
            // OrderedDict() and friends: keep the items as the call's state.
            Object::Call { state: Some(state), .. } => *state,
            Object::Call { state: None, .. } => {
                let state = self.new_object(Object::Dict(Vec::new()));
                if let Object::Call { state: s, .. } = &mut self.objects[target] {
                    *s = Some(state);
                }
                state
            }
            other => return Err(format!("SETITEMS on {}", other.kind())),
        };
        let Object::Dict(d) = &mut self.objects[dict] else {
            return Err("SETITEMS on an object with non-dict state".into());
        };
        d.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
        Ok(())
    }

    /// Runs to `STOP` and returns the root object.
    fn run(&mut self) -> Result<Id, String> {
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
                b'(' => self.stack.push(Slot::Mark),
                b'}' => self.push(Object::Dict(Vec::new())),
                b']' => self.push(Object::List(Vec::new())),
                b')' => self.push(Object::Tuple(Vec::new())),
                b'N' => self.push(Object::Scalar(Value::None)),
                0x88 => self.push(Object::Scalar(Value::Bool(true))),
                0x89 => self.push(Object::Scalar(Value::Bool(false))),
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Object::Scalar(Value::Int(v as i64)))
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Object::Scalar(Value::Int(v as i64)))
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Object::Scalar(Value::Int(v as i64)))
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
                    self.push(Object::Scalar(Value::Int(v)))
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes(b.try_into().map_err(|_| "bad float")?);
                    self.push(Object::Scalar(Value::Float(v)))
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.utf8(n)?;
                    self.push(Object::Scalar(v))
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.utf8(n)?;
                    self.push(Object::Scalar(v))
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Object::Scalar(Value::Bytes(b)))
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Object::Scalar(Value::Bytes(b)))
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Object::Scalar(Value::Global(module, name)))
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (&self.objects[module], &self.objects[name]) {
                        (Object::Scalar(Value::Str(m)), Object::Scalar(Value::Str(n))) => {
                            let global = Value::Global(m.clone(), n.clone());
                            self.push(Object::Scalar(global))
                        }
                        _ => return Err("STACK_GLOBAL needs two strings".into()),
                    }
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    self.memoize(k)?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memoize(k)?
                }
                0x94 => {
                    // MEMOIZE: the next key is the memo's size, as in CPython.
                    let k = u32::try_from(self.memo.len()).map_err(|_| "pickle memo too large")?;
                    self.memoize(k)?
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    self.memo_get(k)?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k)?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Object::Tuple(items))
                }
                0x85 => {
                    let a = self.pop()?;
                    self.push(Object::Tuple(vec![a]))
                }
                0x86 => {
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.push(Object::Tuple(vec![a, b]))
                }
                0x87 => {
                    let c = self.pop()?;
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.push(Object::Tuple(vec![a, b, c]))
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v], "APPEND")?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items, "APPENDS")?
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
                    self.push(Object::Dict(Vec::new()));
                    self.set_items(items)?
                }
                b'R' | 0x81 => {
                    // REDUCE / NEWOBJ: record the call, never execute it.
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let object = match &self.objects[callable] {
                        Object::Scalar(Value::Global(m, n)) if m == "collections" && n == "OrderedDict" => {
                            Object::Dict(Vec::new())
                        }
                        _ => Object::Call { callable, args, state: None },
                    };
                    self.push(object)
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    // BUILD on an OrderedDict or other plain value: nothing to keep.
                    if let Object::Call { state: s, .. } = &mut self.objects[target] {
                        *s = Some(state);
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.push(Object::PersistentId(pid))
                }
                other => return Err(format!("unsupported pickle opcode 0x{other:02x} at byte {}", self.pos - 1)),
            }
        }
    }
}

/// Copies the object graph into a [`Value`] tree, one copy per reference, within the bounds above.
struct Copier<'a> {
    objects: &'a [Object],
    /// Units ([`COPY_PER_INPUT_BYTE`]) left.
    budget: usize,
    /// Objects being copied on the current path: meeting one again means the pickle is recursive.
    open: Vec<bool>,
}

impl Copier<'_> {
    fn value(&mut self, id: Id, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("pickle nested deeper than {MAX_DEPTH} levels"));
        }
        if self.open[id] {
            return Err("recursive pickle (an object contains itself)".into());
        }
        let objects = self.objects;
        let object = &objects[id];
        let cost = match object {
            Object::Scalar(Value::Str(s)) => 1 + s.len(),
            Object::Scalar(Value::Bytes(b)) => 1 + b.len(),
            Object::Scalar(Value::Global(m, n)) => 1 + m.len() + n.len(),
            _ => 1,
        };
        self.budget =
            self.budget.checked_sub(cost).ok_or("pickle expands too much (an object referenced too often)")?;
        self.open[id] = true;
        let d = depth + 1;
        let value = match object {
            Object::Scalar(v) => v.clone(),
            Object::List(items) => Value::List(self.values(items, d)?),
            Object::Tuple(items) => Value::Tuple(self.values(items, d)?),
            Object::Dict(items) => Value::Dict(
                items
                    .iter()
                    .map(|&(k, v)| Ok((self.value(k, d)?, self.value(v, d)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Object::Call { callable, args, state } => Value::Call {
                callable: Box::new(self.value(*callable, d)?),
                args: Box::new(self.value(*args, d)?),
                state: state.map(|s| self.value(s, d).map(Box::new)).transpose()?,
            },
            Object::PersistentId(pid) => Value::PersistentId(Box::new(self.value(*pid, d)?)),
        };
        self.open[id] = false;
        Ok(value)
    }

    fn values(&mut self, ids: &[Id], depth: usize) -> Result<Vec<Value>, String> {
        ids.iter().map(|&id| self.value(id, depth)).collect()
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
