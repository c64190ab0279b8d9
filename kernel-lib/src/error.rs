//! The one error type of the notebook API.
//!
//! Why not plain `anyhow::Error`: evcxr prints a `?` failure with `{}`, which for anyhow is the
//! outermost context only ("ingesting YAP1") without the reason ("line 7: empty sequence"). This
//! type's `Display` is the whole chain, one cause per line, so the notebook shows what went wrong.
//! Every message starts with `esmdb error:`, which also lets the headless notebook test find
//! failures that evcxr reports as ordinary stderr output.
use std::fmt;

/// An error of the notebook API: what was being done, then each underlying cause.
pub struct Error(anyhow::Error);

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with just a message.
    pub fn msg(message: impl fmt::Display + fmt::Debug + Send + Sync + 'static) -> Self {
        Error(anyhow::Error::msg(message))
    }

    /// The underlying `anyhow` error (for `downcast_ref` to the library error types).
    pub fn inner(&self) -> &anyhow::Error {
        &self.0
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let top = self.0.to_string();
        write!(f, "esmdb error: {top}")?;
        // Library errors often repeat their source inside their own message (DataFusion's
        // `External error: …`); print a cause only when it adds something.
        let mut shown = top;
        for cause in self.0.chain().skip(1) {
            let text = cause.to_string();
            if !shown.contains(&text) {
                write!(f, "\n  caused by: {text}")?;
                shown.push_str(&text);
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Runs `f`, turning its `anyhow` error into an [`Error`]: the public functions are thin wrappers
/// around `anyhow` code so that `?` works on every library error inside them.
pub(crate) fn wrap<T>(f: impl FnOnce() -> anyhow::Result<T>) -> Result<T> {
    f().map_err(Error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn display_shows_every_new_cause_once() {
        let inner: anyhow::Result<()> = Err(anyhow::anyhow!("line 7: empty sequence"));
        let e = Error::from(inner.context("reading x.fasta").context("ingesting `YAP1`").unwrap_err());
        assert_eq!(
            e.to_string(),
            "esmdb error: ingesting `YAP1`\n  caused by: reading x.fasta\n  caused by: line 7: empty sequence"
        );
        let repeated = anyhow::anyhow!("boom").context("External error: boom");
        assert_eq!(Error::from(repeated).to_string(), "esmdb error: External error: boom");
    }
}
