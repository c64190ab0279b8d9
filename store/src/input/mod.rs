//! Reading DMS inputs into validated variant records.
//!
//! Three layouts are accepted — the paper's (`*_metadata.csv` with `ID, mutant, target, sequence`
//! and/or `*_muts.fasta`), ProteinGym substitution CSVs (`mutant, mutated_sequence, DMS_score,
//! DMS_score_bin`) and any CSV/Parquet with named columns — detected from the header unless given.
//! Everything is validated before the store is touched, so a bad file writes nothing. Sequences go
//! through `esmdb-seq` (its FASTA reader and [`esmdb_seq::normalize`]), as `esmdb embed` and SQL's do.
pub mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use esmdb_seq::fasta;

use crate::error::{Error, Result};

/// Input layout of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// The paper's `*_metadata.csv`: `ID`, `mutant`, `target`, `sequence` (+ an unnamed index column).
    Paper,
    /// ProteinGym substitutions: `mutant` (the id), `mutated_sequence`, `DMS_score` (+ `DMS_score_bin`).
    ProteinGym,
    /// Any CSV or Parquet with the columns named in [`ColumnMap`].
    Columns,
    /// FASTA (ids and sequences only).
    Fasta,
}

impl FromStr for InputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "paper" => Ok(InputFormat::Paper),
            "proteingym" => Ok(InputFormat::ProteinGym),
            "columns" | "csv" | "parquet" => Ok(InputFormat::Columns),
            "fasta" => Ok(InputFormat::Fasta),
            other => Err(Error::Option(format!(
                "unknown input format `{other}`; expected paper, proteingym, columns or fasta"
            ))),
        }
    }
}

/// Column names for [`InputFormat::Columns`].
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// Id column (default `id`).
    pub id: String,
    /// Sequence column (default `sequence`).
    pub sequence: String,
    /// Target column; `None` (default) = no target. When given, it must exist.
    pub target: Option<String>,
    /// Mutant column (default `mutant`; used when present).
    pub mutant: String,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap { id: "id".into(), sequence: "sequence".into(), target: None, mutant: "mutant".into() }
    }
}

/// How to read input files.
#[derive(Debug, Clone, Default)]
pub struct ReadParams {
    /// Force a format for every tabular file (default: detected from extension and header).
    pub format: Option<InputFormat>,
    /// Column names; setting any makes tabular files [`InputFormat::Columns`] unless `format` says otherwise.
    pub columns: Option<ColumnMap>,
}

/// One validated variant, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRecord {
    /// Variant id, unique within the dataset.
    pub id: String,
    /// Mutation notation (e.g. `D170C`), if the input has it.
    pub mutant: Option<String>,
    /// Normalized sequence ([`esmdb_seq::normalize`]: uppercase, no whitespace).
    pub sequence: String,
    /// SHA-256 of `sequence`, hex.
    pub seq_hash: String,
    /// Measured fitness, if any.
    pub target: Option<f64>,
    /// 0-based position in its input file.
    pub input_row: i64,
    /// Other input columns as a JSON object of strings (`None` when there are none).
    pub extra: Option<String>,
}

/// Where a record came from, for error messages.
#[derive(Debug, Clone)]
struct Origin {
    path: PathBuf,
    line: usize,
}

/// Reads and validates `files` into one list of records, cross-checking a metadata CSV against a
/// FASTA of the same variants when both are given.
pub fn read(files: &[PathBuf], params: &ReadParams) -> Result<Vec<VariantRecord>> {
    if files.is_empty() {
        return Err(Error::Option("no input files given".into()));
    }
    let mut tabular: Vec<(VariantRecord, Origin)> = Vec::new();
    let mut fastas: Vec<(PathBuf, Vec<fasta::Record>)> = Vec::new();
    for path in files {
        let is_parquet = has_extension(path, &["parquet", "pq"]);
        let text = if is_parquet {
            String::new()
        } else {
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.clone(), source })?
        };
        let looks_fasta = has_extension(path, &["fasta", "fa", "faa", "fas"])
            || text.trim_start().starts_with('>')
            || params.format == Some(InputFormat::Fasta);
        if !is_parquet && looks_fasta {
            fastas.push((path.clone(), fasta::parse(path, &text).map_err(Error::fasta)?));
            continue;
        }
        let table = if is_parquet { table::read_parquet(path)? } else { table::read_csv(path, &text)? };
        tabular.extend(from_table(path, &table, params)?);
    }

    let records = if tabular.is_empty() {
        let mut out = Vec::new();
        for (path, recs) in &fastas {
            for (row, r) in recs.iter().enumerate() {
                let record = VariantRecord {
                    id: r.id.clone(),
                    mutant: None,
                    sequence: r.sequence.clone(),
                    seq_hash: esmdb_seq::seq_hash(&r.sequence),
                    target: None,
                    input_row: row as i64,
                    extra: None,
                };
                out.push((record, Origin { path: path.clone(), line: r.line }));
            }
        }
        out
    } else {
        cross_check(&tabular, &fastas)?;
        tabular
    };
    check_unique(&records)?;
    Ok(records.into_iter().map(|(r, _)| r).collect())
}

fn has_extension(path: &Path, exts: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Column roles of one tabular file.
struct Roles {
    id: usize,
    sequence: usize,
    target: Option<(usize, String)>,
    mutant: Option<usize>,
}

fn detect(path: &Path, table: &table::Table, params: &ReadParams) -> Result<Roles> {
    let format = match params.format {
        Some(f) => f,
        None if params.columns.is_some() => InputFormat::Columns,
        None if table.column("ID").is_some() && table.column("sequence").is_some() => InputFormat::Paper,
        None if table.column("mutated_sequence").is_some() => InputFormat::ProteinGym,
        // The documented defaults of the columns layout (`id`, `sequence`, and `target` when there).
        None if table.column("id").is_some() && table.column("sequence").is_some() => {
            let map = ColumnMap { target: table.column("target").map(|_| "target".to_owned()), ..ColumnMap::default() };
            return detect(path, table, &ReadParams { format: Some(InputFormat::Columns), columns: Some(map) });
        }
        None => {
            return Err(Error::Format {
                path: path.to_owned(),
                message: format!(
                    "cannot recognize the layout (columns: {}); expected the paper's (ID, mutant, target, sequence), \
                     ProteinGym's (mutant, mutated_sequence, DMS_score), id and sequence (and target), or \
                     --id-col/--sequence-col/--target-col",
                    table.header.join(", ")
                ),
            });
        }
    };
    Ok(match format {
        InputFormat::Paper => Roles {
            id: table.require(path, "ID")?,
            sequence: table.require(path, "sequence")?,
            target: Some((table.require(path, "target")?, "target".into())),
            mutant: table.column("mutant"),
        },
        InputFormat::ProteinGym => Roles {
            id: table.require(path, "mutant")?,
            sequence: table.require(path, "mutated_sequence")?,
            target: Some((table.require(path, "DMS_score")?, "DMS_score".into())),
            mutant: table.column("mutant"),
        },
        InputFormat::Columns | InputFormat::Fasta => {
            let map = params.columns.clone().unwrap_or_default();
            Roles {
                id: table.require(path, &map.id)?,
                sequence: table.require(path, &map.sequence)?,
                target: match &map.target {
                    Some(t) => Some((table.require(path, t)?, t.clone())),
                    None => None,
                },
                mutant: table.column(&map.mutant),
            }
        }
    })
}

fn from_table(path: &Path, table: &table::Table, params: &ReadParams) -> Result<Vec<(VariantRecord, Origin)>> {
    let roles = detect(path, table, params)?;
    let used: Vec<usize> = [Some(roles.id), Some(roles.sequence), roles.target.as_ref().map(|t| t.0), roles.mutant]
        .into_iter()
        .flatten()
        .collect();
    // The unnamed first column of the paper's CSVs is pandas' index, not data.
    let extra_columns: Vec<usize> = (0..table.header.len())
        .filter(|i| !used.contains(i) && !table.header[*i].is_empty() && !table.header[*i].starts_with("Unnamed: "))
        .collect();
    let mut out = Vec::with_capacity(table.rows.len());
    for (row_index, row) in table.rows.iter().enumerate() {
        let origin = Origin { path: path.to_owned(), line: row.line };
        let id = row.cells[roles.id].as_deref().ok_or_else(|| Error::Input {
            path: path.to_owned(),
            line: row.line,
            message: format!("empty id in column `{}`", table.header[roles.id]),
        })?;
        let seq = row.cells[roles.sequence].as_deref().unwrap_or("");
        let target = match &roles.target {
            Some((col, name)) => parse_target(&origin, id, name, row.cells[*col].as_deref())?,
            None => None,
        };
        let mutant = roles.mutant.and_then(|m| row.cells[m].clone());
        let extra = (!extra_columns.is_empty()).then(|| {
            let map: serde_json::Map<String, serde_json::Value> = extra_columns
                .iter()
                .map(|&c| (table.header[c].clone(), row.cells[c].clone().map_or(serde_json::Value::Null, Into::into)))
                .collect();
            serde_json::Value::Object(map).to_string()
        });
        out.push((record(&origin, id, mutant, seq, target, row_index as i64, extra)?, origin));
    }
    Ok(out)
}

fn parse_target(origin: &Origin, id: &str, column: &str, value: Option<&str>) -> Result<Option<f64>> {
    let Some(value) = value else { return Ok(None) };
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(Error::InvalidTarget {
            path: origin.path.clone(),
            line: origin.line,
            id: id.to_owned(),
            column: column.to_owned(),
            value: value.to_owned(),
        }),
    }
}

fn record(
    origin: &Origin,
    id: &str,
    mutant: Option<String>,
    seq: &str,
    target: Option<f64>,
    input_row: i64,
    extra: Option<String>,
) -> Result<VariantRecord> {
    let sequence = esmdb_seq::normalize(seq).map_err(|refusal| Error::Sequence {
        path: origin.path.clone(),
        line: origin.line,
        source: refusal.for_id(id),
    })?;
    let seq_hash = esmdb_seq::seq_hash(&sequence);
    Ok(VariantRecord { id: id.to_owned(), mutant, sequence, seq_hash, target, input_row, extra })
}

fn check_unique(records: &[(VariantRecord, Origin)]) -> Result<()> {
    let mut seen: HashMap<&str, &Origin> = HashMap::new();
    for (r, origin) in records {
        if let Some(first) = seen.insert(r.id.as_str(), origin) {
            return Err(if first.path == origin.path {
                Error::DuplicateId {
                    path: origin.path.clone(),
                    line: origin.line,
                    first_line: first.line,
                    id: r.id.clone(),
                }
            } else {
                Error::Mismatch {
                    path: origin.path.clone(),
                    line: origin.line,
                    id: r.id.clone(),
                    other: first.path.clone(),
                    problem: format!("is a duplicate id (also on line {})", first.line),
                }
            });
        }
    }
    Ok(())
}

/// Every FASTA id must be a tabular id with the same sequence, and every tabular id must be in the FASTA.
fn cross_check(tabular: &[(VariantRecord, Origin)], fastas: &[(PathBuf, Vec<fasta::Record>)]) -> Result<()> {
    if fastas.is_empty() {
        return Ok(());
    }
    let by_id: HashMap<&str, &(VariantRecord, Origin)> = tabular.iter().map(|t| (t.0.id.as_str(), t)).collect();
    let mut in_fasta: HashMap<&str, &Path> = HashMap::new();
    for (path, records) in fastas {
        for f in records {
            let Some((t, t_origin)) = by_id.get(f.id.as_str()) else {
                return Err(Error::Mismatch {
                    path: path.clone(),
                    line: f.line,
                    id: f.id.clone(),
                    other: tabular[0].1.path.clone(),
                    problem: "is in the FASTA but not in the table".into(),
                });
            };
            if f.sequence != t.sequence {
                return Err(Error::Mismatch {
                    path: path.clone(),
                    line: f.line,
                    id: f.id.clone(),
                    other: t_origin.path.clone(),
                    problem: format!("has a different sequence than line {} of the table", t_origin.line),
                });
            }
            in_fasta.insert(f.id.as_str(), path.as_path());
        }
    }
    if let Some((t, origin)) = tabular.iter().find(|(t, _)| !in_fasta.contains_key(t.id.as_str())) {
        return Err(Error::Mismatch {
            path: origin.path.clone(),
            line: origin.line,
            id: t.id.clone(),
            other: fastas[0].0.clone(),
            problem: "is in the table but not in the FASTA".into(),
        });
    }
    Ok(())
}

/// The datasets of a directory in the paper's layout, by name: `[<NAME>_metadata.csv, <NAME>_muts.fasta?]`
/// (the metadata first; the FASTA when present, to cross-check). An error when there is none.
pub fn paper_layout(dir: &std::path::Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let io = |source| Error::Io { path: dir.to_path_buf(), source };
    let mut found: std::collections::BTreeMap<String, Vec<PathBuf>> = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        if let Some(name) = file.strip_suffix("_metadata.csv") {
            found.entry(name.to_owned()).or_default().insert(0, path);
        } else if let Some(name) = file.strip_suffix("_muts.fasta") {
            found.entry(name.to_owned()).or_default().push(path);
        }
    }
    found.retain(|_, files| files.iter().any(|f| f.to_string_lossy().ends_with("_metadata.csv")));
    if found.is_empty() {
        return Err(Error::Format {
            path: dir.to_path_buf(),
            message: "no `<NAME>_metadata.csv` files (the paper's layout)".into(),
        });
    }
    Ok(found.into_iter().collect())
}
