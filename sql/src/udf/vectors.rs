//! Reading and writing the vector shapes the functions exchange: feature vectors (List /
//! LargeList / FixedSizeList of Float32 or Float64) and per-token matrices (a list of such vectors).
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Float32Array, Float64Array, ListArray};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};

use crate::error::call_error;

/// `FixedSizeList<Float32, dim>` (nullable items, as arrow builds them).
pub fn fsl_f32_type(dim: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dim as i32)
}

/// `List<Float32>`.
pub fn list_f32_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Float32, true)))
}

/// `List<Float64>`.
pub fn list_f64_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Float64, true)))
}

/// `List<FixedSizeList<Float32, dim>>`: a per-token matrix.
pub fn tokens_type(dim: usize) -> DataType {
    DataType::List(Arc::new(Field::new("item", fsl_f32_type(dim), true)))
}

/// Is `t` a vector type the functions accept (list of Float32/Float64)?
pub fn is_vector_type(t: &DataType) -> bool {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            matches!(f.data_type(), DataType::Float32 | DataType::Float64 | DataType::Null)
        }
        DataType::Null => true,
        _ => false,
    }
}

/// The width of a per-token matrix type when it is fixed (`List<FixedSizeList<_, D>>`).
pub fn token_dim(t: &DataType) -> Option<usize> {
    match t {
        DataType::List(f) | DataType::LargeList(f) => match f.data_type() {
            DataType::FixedSizeList(inner, d) if is_float(inner.data_type()) => Some(*d as usize),
            _ => None,
        },
        _ => None,
    }
}

/// Is `t` a per-token matrix type (a list of vectors)?
pub fn is_tokens_type(t: &DataType) -> bool {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => is_vector_type(f.data_type()),
        DataType::Null => true,
        _ => false,
    }
}

fn is_float(t: &DataType) -> bool {
    matches!(t, DataType::Float32 | DataType::Float64)
}

/// One feature vector per row (`None` for NULL), as f64.
pub fn rows_f64(function: &'static str, array: &ArrayRef) -> Result<Vec<Option<Vec<f64>>>> {
    if array.data_type() == &DataType::Null {
        return Ok(vec![None; array.len()]);
    }
    if !is_vector_type(array.data_type()) {
        return Err(call_error(
            function,
            format!("features must be a list of Float32/Float64, got {}", array.data_type()),
        ));
    }
    let list = cast(array, &list_f64_type())?;
    let list = list.as_list::<i32>();
    let values = list.values().as_primitive::<Float64Type>();
    let mut out = Vec::with_capacity(list.len());
    for i in 0..list.len() {
        if list.is_null(i) {
            out.push(None);
            continue;
        }
        let (start, end) = (list.value_offsets()[i] as usize, list.value_offsets()[i + 1] as usize);
        if values.null_count() > 0 && (start..end).any(|j| values.is_null(j)) {
            return Err(call_error(function, format!("row {}: the feature vector contains NULL", i + 1)));
        }
        out.push(Some(values.values()[start..end].to_vec()));
    }
    Ok(out)
}

/// A per-token matrix: `rows × dim` values, row-major.
pub struct Tokens {
    /// Values.
    pub values: Vec<f32>,
    /// Row count.
    pub rows: usize,
    /// Width.
    pub dim: usize,
}

/// One per-token matrix per row (`None` for NULL), as f32.
pub fn token_matrices(function: &'static str, array: &ArrayRef) -> Result<Vec<Option<Tokens>>> {
    if array.data_type() == &DataType::Null {
        return Ok((0..array.len()).map(|_| None).collect());
    }
    if !is_tokens_type(array.data_type()) {
        return Err(call_error(
            function,
            format!("expected a per-token matrix (a list of Float32/Float64 vectors), got {}", array.data_type()),
        ));
    }
    let inner = DataType::List(Arc::new(Field::new("item", list_f32_type(), true)));
    let outer = cast(array, &inner)?;
    let outer = outer.as_list::<i32>();
    let rows = outer.values().as_list::<i32>();
    let values = rows.values().as_primitive::<Float32Type>();
    let mut out = Vec::with_capacity(outer.len());
    for i in 0..outer.len() {
        if outer.is_null(i) {
            out.push(None);
            continue;
        }
        let (r0, r1) = (outer.value_offsets()[i] as usize, outer.value_offsets()[i + 1] as usize);
        let mut dim = None;
        let mut data = Vec::new();
        for r in r0..r1 {
            if rows.is_null(r) {
                return Err(call_error(function, format!("row {}: token {} is NULL", i + 1, r - r0 + 1)));
            }
            let (s, e) = (rows.value_offsets()[r] as usize, rows.value_offsets()[r + 1] as usize);
            match dim {
                None => dim = Some(e - s),
                Some(d) if d != e - s => {
                    return Err(call_error(
                        function,
                        format!("row {}: token {} has {} values, the first had {d}", i + 1, r - r0 + 1, e - s),
                    ));
                }
                _ => {}
            }
            data.extend_from_slice(&values.values()[s..e]);
        }
        out.push(Some(Tokens { values: data, rows: r1 - r0, dim: dim.unwrap_or(0) }));
    }
    Ok(out)
}

/// Builds `FixedSizeList<Float32, dim>` from optional rows of exactly `dim` values.
pub fn fsl_f32(dim: usize, rows: &[Option<Vec<f32>>]) -> Result<ArrayRef> {
    let mut flat = Vec::with_capacity(rows.len() * dim);
    let mut valid = Vec::with_capacity(rows.len());
    for r in rows {
        match r {
            Some(v) if v.len() == dim => {
                flat.extend_from_slice(v);
                valid.push(true);
            }
            Some(v) => {
                return Err(DataFusionError::Internal(format!(
                    "vector of {} values where {dim} were expected",
                    v.len()
                )));
            }
            None => {
                flat.extend(std::iter::repeat_n(0.0, dim));
                valid.push(false);
            }
        }
    }
    let field = Arc::new(Field::new("item", DataType::Float32, true));
    let array = FixedSizeListArray::try_new(field, dim as i32, Arc::new(Float32Array::from(flat)), Some(valid.into()))?;
    Ok(Arc::new(array))
}

/// Builds `List<Float32>` from optional rows.
pub fn list_f32(rows: &[Option<Vec<f32>>]) -> Result<ArrayRef> {
    let lengths = rows.iter().map(|r| r.as_ref().map_or(0, Vec::len));
    let offsets = OffsetBuffer::from_lengths(lengths);
    let values: Vec<f32> = rows.iter().flatten().flatten().copied().collect();
    let valid: Vec<bool> = rows.iter().map(Option::is_some).collect();
    let field = Arc::new(Field::new("item", DataType::Float32, true));
    Ok(Arc::new(ListArray::try_new(field, offsets, Arc::new(Float32Array::from(values)), Some(valid.into()))?))
}

/// Builds `List<Float64>` with one row holding `values`.
pub fn list_f64_row(values: Vec<f64>) -> ListArray {
    let n = values.len();
    let field = Arc::new(Field::new("item", DataType::Float64, true));
    ListArray::new(
        field,
        OffsetBuffer::new(ScalarBuffer::from(vec![0i32, n as i32])),
        Arc::new(Float64Array::from(values)),
        None,
    )
}

/// Builds a per-token matrix column `List<FixedSizeList<Float32, dim>>` from optional matrices
/// (flat row-major values of `rows × dim`).
pub fn tokens_array(dim: usize, matrices: &[Option<Vec<f32>>]) -> Result<ArrayRef> {
    let mut token_rows = Vec::new();
    let mut lengths = Vec::with_capacity(matrices.len());
    for m in matrices {
        match m {
            Some(v) => {
                lengths.push(v.len() / dim.max(1));
                token_rows.push(v.as_slice());
            }
            None => lengths.push(0),
        }
    }
    let flat: Vec<f32> = token_rows.concat();
    let n_tokens = flat.len() / dim.max(1);
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let inner = FixedSizeListArray::try_new(item, dim as i32, Arc::new(Float32Array::from(flat)), None)?;
    debug_assert_eq!(inner.len(), n_tokens);
    let valid: Vec<bool> = matrices.iter().map(Option::is_some).collect();
    let field = Arc::new(Field::new("item", fsl_f32_type(dim), true));
    Ok(Arc::new(ListArray::try_new(field, OffsetBuffer::from_lengths(lengths), Arc::new(inner), Some(valid.into()))?))
}

/// The strings of a string column (Utf8, LargeUtf8, Utf8View), `None` for NULL.
pub fn strings(function: &'static str, array: &ArrayRef) -> Result<Vec<Option<String>>> {
    let utf8 = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => cast(array, &DataType::Utf8)?,
        other => return Err(call_error(function, format!("expected a string argument, got {other}"))),
    };
    let s = utf8.as_string::<i32>();
    Ok((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_owned())).collect())
}

/// A constant integer argument ≥ 1 (`n`, `m`, `k` of the compressions), or an error naming it.
pub fn positive_constant(function: &'static str, s: Option<&ScalarValue>, what: &str) -> Result<usize> {
    match s.filter(|s| !s.is_null() && s.data_type().is_integer()).map(|s| s.cast_to(&DataType::Int64)) {
        Some(Ok(ScalarValue::Int64(Some(v)))) if v >= 1 => Ok(v as usize),
        _ => Err(call_error(function, format!("{what} must be a constant integer ≥ 1"))),
    }
}
