//! The C ABI of `libesmdb_kernel_lib.so`, which the thin `esmdb-kernel` crate calls from notebook cells.
//!
//! Three functions (`esmdb_kernel_abi_version`, `esmdb_kernel_call`, `esmdb_kernel_free`); a call is a
//! [`Value`] list `[op, args…]` in the byte format of `esmdb_kernel::wire`, and so is its reply. Stores and
//! tables stay here, named on the other side by handles; everything else crosses as values.
//!
//! Why calls can never abort the kernel: bytes are decoded without trusting lengths, every operation runs
//! under `catch_unwind` (a panic becomes an error reply: unwinding through `extern "C"` would abort the
//! process), and the object table survives a panic (its lock is taken only to look up or insert, and a
//! poisoned lock is recovered, not propagated).
#![allow(unsafe_code)] // The exported C functions; each unsafe block says what it relies on.

use std::collections::HashMap;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use esmdb_kernel::wire::{self, Buffer, Value, WireError};
use esmdb_report::FoldRow;

use crate::{Db, Error, Result, Table, figure};

/// An object a handle names.
#[derive(Clone)]
enum Object {
    Db(Arc<Db>),
    Table(Arc<Table>),
}

#[derive(Default)]
struct Objects {
    next: u64,
    live: HashMap<u64, Object>,
}

static OBJECTS: LazyLock<Mutex<Objects>> = LazyLock::new(Mutex::default);

fn objects() -> MutexGuard<'static, Objects> {
    OBJECTS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn put(object: Object) -> Value {
    let mut objects = objects();
    objects.next += 1;
    let id = objects.next;
    objects.live.insert(id, object);
    Value::Handle(id)
}

/// The version of the call contract (`esmdb_kernel::wire::ABI_VERSION` when this library was built).
#[unsafe(no_mangle)]
pub extern "C" fn esmdb_kernel_abi_version() -> u32 {
    wire::ABI_VERSION
}

/// One call: `len` bytes at `request` encode `[op, args…]`; the reply is a buffer for `esmdb_kernel_free`.
///
/// # Safety
/// `request` must point to `len` readable bytes (or be null with `len == 0`) for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esmdb_kernel_call(request: *const u8, len: usize) -> Buffer {
    let bytes: &[u8] = if request.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `len` readable bytes at `request` while we run.
        unsafe { std::slice::from_raw_parts(request, len) }
    };
    let reply = match catch_unwind(AssertUnwindSafe(|| dispatch(bytes))) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => Value::Error(e.to_string()),
        Err(panic) => Value::Error(format!(
            "esmdb error: internal error: {} (a bug in esmdb; the kernel keeps running)",
            panic_message(panic.as_ref())
        )),
    };
    // The library's stdout is not the cell's: flush progress lines before the cell prints its display.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut bytes = std::mem::ManuallyDrop::new(reply.encode());
    Buffer { ptr: bytes.as_mut_ptr(), len: bytes.len(), cap: bytes.capacity() }
}

/// Frees a reply of [`esmdb_kernel_call`].
///
/// # Safety
/// `buffer` must be a reply of `esmdb_kernel_call` of this library, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn esmdb_kernel_free(buffer: Buffer) {
    if !buffer.ptr.is_null() {
        // SAFETY: the buffer is a `Vec<u8>`'s parts made by `esmdb_kernel_call`, handed back once.
        drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn wire_error(op: &str, e: WireError) -> Error {
    Error::msg(format!("{op}: {}", e.0))
}

/// The arguments of one call, taken in order.
struct Args {
    op: String,
    items: std::vec::IntoIter<Value>,
}

impl Args {
    fn next(&mut self) -> Result<Value> {
        self.items.next().ok_or_else(|| Error::msg(format!("{}: an argument is missing", self.op)))
    }

    fn wire<T>(&self, r: std::result::Result<T, WireError>) -> Result<T> {
        r.map_err(|e| wire_error(&self.op, e))
    }

    fn string(&mut self) -> Result<String> {
        let v = self.next()?;
        self.wire(v.into_string())
    }

    fn opt_string(&mut self) -> Result<Option<String>> {
        let v = self.next()?;
        self.wire(v.into_opt_string())
    }

    fn path(&mut self) -> Result<PathBuf> {
        self.string().map(PathBuf::from)
    }

    fn flag(&mut self) -> Result<bool> {
        let v = self.next()?;
        self.wire(v.as_bool())
    }

    fn int(&mut self) -> Result<i64> {
        let v = self.next()?;
        self.wire(v.as_i64())
    }

    fn floats(&mut self) -> Result<Vec<f64>> {
        let v = self.next()?;
        self.wire(v.into_f64s())
    }

    fn strings(&mut self) -> Result<Vec<String>> {
        let v = self.next()?;
        let items = self.wire(v.into_list())?;
        items.into_iter().map(|i| self.wire(i.into_string())).collect()
    }

    fn object(&mut self) -> Result<Object> {
        let v = self.next()?;
        let id = self.wire(v.as_handle())?;
        objects().live.get(&id).cloned().ok_or_else(|| {
            Error::msg(format!("{}: handle {id} names nothing (released, or from an earlier kernel)", self.op))
        })
    }

    fn db(&mut self) -> Result<Arc<Db>> {
        match self.object()? {
            Object::Db(db) => Ok(db),
            Object::Table(_) => Err(Error::msg(format!("{}: expected a store, got a table", self.op))),
        }
    }

    fn table(&mut self) -> Result<Arc<Table>> {
        match self.object()? {
            Object::Table(t) => Ok(t),
            Object::Db(_) => Err(Error::msg(format!("{}: expected a table, got a store", self.op))),
        }
    }

    fn rows(&mut self) -> Result<Vec<FoldRow>> {
        let v = self.next()?;
        let items = self.wire(v.into_list())?;
        items.into_iter().map(|r| fold_row(&self.op, r)).collect()
    }

    /// Fails when arguments are left over: a caller from another version of the contract.
    fn done(self) -> Result<()> {
        match self.items.len() {
            0 => Ok(()),
            n => Err(Error::msg(format!("{}: {n} unexpected arguments", self.op))),
        }
    }
}

fn table(t: Table) -> Value {
    put(Object::Table(Arc::new(t)))
}

fn strings(v: Vec<String>) -> Value {
    Value::List(v.into_iter().map(Value::Str).collect())
}

fn blocks(v: Vec<(String, String)>) -> Value {
    Value::List(v.into_iter().map(|(m, c)| Value::List(vec![Value::Str(m), Value::Str(c)])).collect())
}

/// A fold row from the wire, through the thin crate's codec (the one place its field order is written).
fn fold_row(op: &str, value: Value) -> Result<FoldRow> {
    let r = esmdb_kernel::FoldRow::from_value(value).map_err(|e| Error::msg(format!("{op}: {e}")))?;
    Ok(FoldRow {
        model: r.model,
        fold: r.fold,
        r2_train: r.r2_train,
        mae_train: r.mae_train,
        rmse_train: r.rmse_train,
        r2_test: r.r2_test,
        mae_test: r.mae_test,
        rmse_test: r.rmse_test,
        rho_train: r.rho_train,
        rho_test: r.rho_test,
        n_nonzero: r.n_nonzero,
        compression: r.compression,
        dataset: r.dataset,
    })
}

/// A fold row for the wire, through the thin crate's codec.
fn fold_row_value(r: &FoldRow) -> Value {
    esmdb_kernel::FoldRow {
        model: r.model.clone(),
        fold: r.fold,
        r2_train: r.r2_train,
        mae_train: r.mae_train,
        rmse_train: r.rmse_train,
        r2_test: r.r2_test,
        mae_test: r.mae_test,
        rmse_test: r.rmse_test,
        rho_train: r.rho_train,
        rho_test: r.rho_test,
        n_nonzero: r.n_nonzero,
        compression: r.compression.clone(),
        dataset: r.dataset.clone(),
    }
    .to_value()
}

fn count(n: usize) -> Value {
    Value::I64(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Decodes a request and runs it.
pub(crate) fn dispatch(bytes: &[u8]) -> Result<Value> {
    let mut items = Value::decode(bytes).and_then(Value::into_list).map_err(|e| wire_error("request", e))?.into_iter();
    let op = match items.next() {
        Some(Value::Str(op)) => op,
        _ => return Err(Error::msg("request: the first item must be the operation's name")),
    };
    let mut a = Args { op: op.clone(), items };
    let value = run(&op, &mut a)?;
    a.done()?;
    Ok(value)
}

fn run(op: &str, a: &mut Args) -> Result<Value> {
    Ok(match op {
        "open" => {
            let path = a.path()?;
            let db = if a.flag()? { crate::open_fresh(&path)? } else { crate::open(&path)? };
            put(Object::Db(Arc::new(db)))
        }
        "release" => {
            let v = a.next()?;
            let id = a.wire(v.as_handle())?;
            objects().live.remove(&id);
            Value::Null
        }
        "display" => match a.object()? {
            Object::Db(db) => blocks(db.display_blocks()),
            Object::Table(t) => blocks(t.display_blocks()),
        },
        "html" => Value::Str(match a.object()? {
            Object::Db(db) => db.to_html()?,
            Object::Table(t) => t.to_html()?,
        }),
        "db.store" => Value::Str(a.db()?.store().to_owned()),
        "db.set" => {
            let db = a.db()?;
            db.set(&a.string()?, a.string()?)?;
            Value::Null
        }
        "db.sql" => {
            let db = a.db()?;
            table(db.sql(&a.string()?)?)
        }
        "db.model_label" => Value::Str(a.db()?.model_label()?),
        "db.ingest" => {
            let db = a.db()?;
            let dataset = a.string()?;
            let files: Vec<PathBuf> = a.strings()?.into_iter().map(PathBuf::from).collect();
            table(db.ingest(&dataset, &files)?)
        }
        "db.ingest_dir" => {
            let db = a.db()?;
            table(db.ingest_dir(a.path()?)?)
        }
        "db.embed" => {
            let db = a.db()?;
            match a.opt_string()? {
                Some(dataset) => table(db.embed(&dataset)?),
                None => table(db.embed_all()?),
            }
        }
        "db.cache_stats" => table(a.db()?.cache_stats()?),
        "db.cache_figure" => Value::Str(a.db()?.cache_figure()?.svg().to_owned()),
        "db.r2_figure" => {
            let db = a.db()?;
            Value::Str(db.r2_figure(&a.string()?)?.svg().to_owned())
        }
        "table.num_rows" => count(a.table()?.num_rows()),
        "table.column_names" => strings(a.table()?.column_names()),
        "table.column_types" => strings(a.table()?.column_types()),
        "table.to_csv" => Value::Str(a.table()?.to_csv()?),
        "table.write_csv" => {
            let t = a.table()?;
            t.write_csv(a.path()?)?;
            Value::Null
        }
        "table.column_f64" => {
            let t = a.table()?;
            Value::F64s(t.column_f64(&a.string()?)?)
        }
        "table.column_strings" => {
            let t = a.table()?;
            strings(t.column_strings(&a.string()?)?)
        }
        "table.to_ipc" => Value::Bytes(a.table()?.to_ipc()?),
        "table.text" => Value::Str(a.table()?.to_string()),
        "svg_to_png" => Value::Bytes(crate::Figure::from_svg(a.string()?).to_png()?),
        "model_or_random" | "model_or_random_layers" => {
            let arch = a.string()?;
            let seed = u64::try_from(a.int()?).map_err(|_| Error::msg("model_or_random: the seed is negative"))?;
            let m = if op == "model_or_random" {
                crate::model_or_random(&arch, seed, a.path()?)?
            } else {
                let layers = u32::try_from(a.int()?)
                    .map_err(|_| Error::msg("model_or_random_layers: the number of layers is out of range"))?;
                crate::model_or_random_layers(&arch, seed, layers, a.path()?)?
            };
            Value::List(vec![
                Value::Str(m.name().to_owned()),
                Value::Str(m.label().to_owned()),
                Value::Str(m.path().display().to_string()),
                Value::Bool(m.pretrained()),
                Value::Str(m.notice()),
            ])
        }
        "find_local" => match crate::find_local(&a.string()?) {
            Some(p) => Value::Str(p.display().to_string()),
            None => Value::Null,
        },
        "fold_rows" => {
            let t = a.table()?;
            let (model, compression) = (a.string()?, a.string()?);
            Value::List(figure::fold_rows(&t, &model, &compression)?.iter().map(fold_row_value).collect())
        }
        "summary_table" => table(figure::summary_table(&a.rows()?)?),
        "r2_figure" => Value::Str(figure::r2_figure(&a.rows()?).svg().to_owned()),
        "fold_bars" => Value::Str(figure::fold_bars(&a.rows()?).svg().to_owned()),
        "zero_shot_figure" => Value::Str(figure::zero_shot_figure(&a.rows()?).svg().to_owned()),
        "predicted_vs_measured" => {
            let (measured, predicted, title, model) = (a.floats()?, a.floats()?, a.string()?, a.string()?);
            if measured.len() != predicted.len() {
                return Err(Error::msg(format!(
                    "predicted_vs_measured: {} measured values but {} predicted",
                    measured.len(),
                    predicted.len()
                )));
            }
            Value::Str(figure::predicted_vs_measured(&measured, &predicted, &title, &model).svg().to_owned())
        }
        "cache_figure" => {
            let stats = a.table()?;
            Value::Str(figure::cache_figure(&stats)?.svg().to_owned())
        }
        "compare_published" => {
            let (rows, label, pretrained, path) = (a.rows()?, a.string()?, a.flag()?, a.path()?);
            let c = figure::compare_labelled(&rows, &label, pretrained, Path::new(&path))?;
            Value::List(vec![
                c.skipped().map_or(Value::Null, |s| Value::Str(s.to_owned())),
                count(c.pairs().len()),
                Value::Str(c.to_html()),
                c.figure().map_or(Value::Null, |f| Value::Str(f.svg().to_owned())),
            ])
        }
        other => {
            return Err(Error::msg(format!("unknown operation `{other}` (kernel library and crate out of step?)")));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(request: Value) -> Value {
        dispatch(&request.encode()).unwrap_or_else(|e| Value::Error(e.to_string()))
    }

    fn req(op: &str, args: Vec<Value>) -> Value {
        let mut items = vec![Value::Str(op.into())];
        items.extend(args);
        Value::List(items)
    }

    #[test]
    fn bad_requests_are_errors_that_say_why() {
        let err = |v: Value| match v {
            Value::Error(m) => m,
            other => panic!("expected an error, got {other:?}"),
        };
        assert!(err(call(Value::I64(3))).contains("expected a list"));
        assert!(err(call(req("nope", vec![]))).contains("unknown operation `nope`"));
        assert!(err(call(req("db.sql", vec![]))).contains("db.sql: an argument is missing"));
        assert!(
            err(call(req("db.sql", vec![Value::Handle(999_999), Value::Str("SELECT 1".into())])))
                .contains("handle 999999 names nothing")
        );
        assert!(err(call(req("db.store", vec![Value::Str("x".into())]))).contains("expected a handle, got text"));
        assert!(err(call(req("release", vec![Value::Handle(1), Value::Null]))).contains("1 unexpected arguments"));
        assert_eq!(dispatch(&[0xff]).unwrap_err().to_string(), "esmdb error: request: unknown tag 255 at offset 0");
    }

    #[test]
    fn a_store_and_its_tables_live_across_calls() {
        let dir = tempfile::tempdir().unwrap();
        let path = Value::Str(dir.path().join("store").display().to_string());
        let db = call(req("open", vec![path, Value::Bool(false)]));
        assert!(matches!(db, Value::Handle(_)), "{db:?}");
        let t = call(req(
            "db.sql",
            vec![db.clone(), Value::Str("SELECT x FROM (SELECT 1 AS x UNION ALL SELECT 2 AS x) ORDER BY x".into())],
        ));
        assert_eq!(call(req("table.column_f64", vec![t.clone(), Value::Str("x".into())])), Value::F64s(vec![1.0, 2.0]));
        assert_eq!(call(req("table.num_rows", vec![t.clone()])), Value::I64(2));
        let Value::Bytes(ipc) = call(req("table.to_ipc", vec![t.clone()])) else { panic!("no IPC bytes") };
        assert_eq!(&ipc[..4], &[0xff, 0xff, 0xff, 0xff], "an IPC stream starts with a continuation marker");
        let shown = call(req("display", vec![t.clone()]));
        assert!(format!("{shown:?}").contains("<th>x<"), "{shown:?}");
        assert_eq!(call(req("release", vec![t.clone()])), Value::Null);
        let gone = call(req("table.num_rows", vec![t]));
        assert!(matches!(gone, Value::Error(ref m) if m.contains("names nothing")), "{gone:?}");
        assert_eq!(call(req("release", vec![db])), Value::Null);
    }
}
