//! What `--datasets` names: directories in the paper's layout, input files, or datasets already in
//! the store.
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A dataset to study: its name and, when it comes from files, the files to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSource {
    /// Dataset name in the store.
    pub name: String,
    /// Files to ingest (empty: the dataset must already be in the store).
    pub files: Vec<PathBuf>,
}

/// Directories (paper layout: `<NAME>_metadata.csv` + `<NAME>_muts.fasta`), files (named by their
/// stem without `_metadata`), or store dataset names, in the order given.
pub fn dataset_sources(items: &[String]) -> Result<Vec<DatasetSource>> {
    let mut out: Vec<DatasetSource> = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let path = Path::new(item);
        if path.is_dir() {
            let found = esmdb_store::input::paper_layout(path)?;
            out.extend(found.into_iter().map(|(name, files)| DatasetSource { name, files }));
        } else if path.is_file() {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let name = stem.strip_suffix("_metadata").unwrap_or(&stem).to_owned();
            out.push(DatasetSource { name, files: vec![path.to_path_buf()] });
        } else {
            out.push(DatasetSource { name: item.to_owned(), files: Vec::new() });
        }
    }
    if out.is_empty() {
        return Err(Error::Param { option: "--datasets", message: "nothing given".into() });
    }
    Ok(out)
}
