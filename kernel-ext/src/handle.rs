//! [`Handle`]: an object kept by the kernel library (a store, a table), released when the last owner drops it.
use crate::library;
use crate::wire::Value;

/// The library-side id of an object; dropping it releases the object.
#[derive(Debug)]
pub(crate) struct Handle(pub(crate) u64);

impl Handle {
    /// Takes the handle out of a reply.
    pub(crate) fn from_reply(value: Value) -> crate::Result<Handle> {
        Ok(Handle(value.as_handle()?))
    }

    /// The value that names this object in a call.
    pub(crate) fn arg(&self) -> Value {
        Value::Handle(self.0)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Nothing useful can be done with a failure here: at worst the library keeps a table in memory.
        let _ = library::call("release", vec![Value::Handle(self.0)]);
    }
}
