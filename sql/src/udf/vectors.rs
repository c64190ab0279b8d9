//! Reading and writing the vector shapes the functions exchange: feature vectors (List /
//! LargeList / FixedSizeList of Float32 or Float64) and per-token matrices (a list of such vectors).
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Float32Array, Float64Array, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type};
use datafusion::common::{ScalarValue, internal_datafusion_err, internal_err};
use datafusion::error::Result;

use crate::error::call_error;

/// The widest vector a function returns when user constants set its width (`n·m` of
/// `compress_idct`, `k·D` of `compress_pca`): 65,536 values, 256 KiB of f32 per row. Far above
/// real use (iDCT3 is 1,280 values; pca1-2 of a 5,120-wide model 10,240), and small enough that a
/// batch of 8,192 such rows stays within 2 GiB even when every row is NULL: a NULL row of a
/// `FixedSizeList` still holds `width` values, and DataFusion repeats a constant-folded result
/// (`compress_idct(NULL, n, m)`) for every row, so only the width itself bounds that memory.
pub const MAX_WIDTH: usize = 1 << 16;

/// The most values one output batch of fixed-width vectors may hold: 2^29 (2 GiB of f32), a full
/// default batch (8,192 rows) at [`MAX_WIDTH`].
pub const MAX_BATCH_VALUES: usize = 1 << 29;

/// `a · b` values per row (`what` names the product, e.g. `n·m`), or an error when the product
/// overflows or exceeds [`MAX_WIDTH`].
pub fn checked_width(function: &'static str, what: &str, a: usize, b: usize) -> Result<usize> {
    match a.checked_mul(b) {
        Some(w) if w <= MAX_WIDTH => Ok(w),
        _ => Err(call_error(
            function,
            format!("{what} = {a}·{b} values per row is more than a result vector may hold ({MAX_WIDTH})"),
        )),
    }
}

/// `FixedSizeList<Float32, dim>` (nullable items, as arrow builds them); an internal error for a
/// width beyond Arrow's `i32` (callers bound user-given widths with [`checked_width`] first).
pub fn fsl_f32_type(dim: usize) -> Result<DataType> {
    let width = i32::try_from(dim)
        .map_err(|_| internal_datafusion_err!("vector width {dim} exceeds Arrow's i32 list widths"))?;
    Ok(DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), width))
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
pub fn tokens_type(dim: usize) -> Result<DataType> {
    Ok(DataType::List(Arc::new(Field::new("item", fsl_f32_type(dim)?, true))))
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
            DataType::FixedSizeList(inner, d) if is_float(inner.data_type()) => usize::try_from(*d).ok(),
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
            // A NULL item has an arbitrary value in the buffer: refuse it rather than read it.
            if values.null_count() > 0 && (s..e).any(|j| values.is_null(j)) {
                return Err(call_error(function, format!("row {}: token {} contains NULL", i + 1, r - r0 + 1)));
            }
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

/// Builds `FixedSizeList<Float32, dim>` from optional rows of exactly `dim` values; `function`'s
/// error when the batch would exceed [`MAX_BATCH_VALUES`] (NULL rows are filled with `dim` zeros).
pub fn fsl_f32(function: &'static str, dim: usize, rows: &[Option<Vec<f32>>]) -> Result<ArrayRef> {
    let total = match rows.len().checked_mul(dim) {
        Some(t) if t <= MAX_BATCH_VALUES => t,
        _ => {
            return Err(call_error(
                function,
                format!(
                    "{} rows of {dim} values are more than a result batch may hold ({MAX_BATCH_VALUES} values)",
                    rows.len()
                ),
            ));
        }
    };
    let width = match fsl_f32_type(dim)? {
        DataType::FixedSizeList(_, w) => w,
        other => return internal_err!("expected a FixedSizeList, got {other}"),
    };
    let mut flat = Vec::with_capacity(total);
    let mut valid = Vec::with_capacity(rows.len());
    for r in rows {
        match r {
            Some(v) if v.len() == dim => {
                flat.extend_from_slice(v);
                valid.push(true);
            }
            Some(v) => {
                return internal_err!("vector of {} values where {dim} were expected", v.len());
            }
            None => {
                flat.extend(std::iter::repeat_n(0.0, dim));
                valid.push(false);
            }
        }
    }
    let field = Arc::new(Field::new("item", DataType::Float32, true));
    let array = FixedSizeListArray::try_new(field, width, Arc::new(Float32Array::from(flat)), Some(valid.into()))?;
    Ok(Arc::new(array))
}

/// Builds the optional rows as the function's return type `t`: `FixedSizeList<Float32, D>` (rows of
/// exactly D values) or else `List<Float32>`.
pub fn f32_rows_as(function: &'static str, t: &DataType, rows: &[Option<Vec<f32>>]) -> Result<ArrayRef> {
    match t {
        DataType::FixedSizeList(_, d) => {
            let d = usize::try_from(*d).map_err(|_| internal_datafusion_err!("negative width in {t}"))?;
            fsl_f32(function, d, rows)
        }
        _ => list_f32(function, rows),
    }
}

/// List offsets for rows of `lengths`, or `function`'s error when they hold more values than a
/// `List` (`i32` offsets) can address; `OffsetBuffer::from_lengths` would panic instead.
pub fn offsets(function: &'static str, lengths: impl IntoIterator<Item = usize>) -> Result<OffsetBuffer<i32>> {
    let lengths: Vec<usize> = lengths.into_iter().collect();
    let total = lengths.iter().try_fold(0usize, |a, l| a.checked_add(*l));
    match total {
        Some(t) if i32::try_from(t).is_ok() => Ok(OffsetBuffer::from_lengths(lengths)),
        _ => Err(call_error(
            function,
            format!("a batch of {} rows holds more values than a list can ({})", lengths.len(), i32::MAX),
        )),
    }
}

/// Builds `List<Float32>` from optional rows.
pub fn list_f32(function: &'static str, rows: &[Option<Vec<f32>>]) -> Result<ArrayRef> {
    let offsets = offsets(function, rows.iter().map(|r| r.as_ref().map_or(0, Vec::len)))?;
    let values: Vec<f32> = rows.iter().flatten().flatten().copied().collect();
    let valid: Vec<bool> = rows.iter().map(Option::is_some).collect();
    let field = Arc::new(Field::new("item", DataType::Float32, true));
    Ok(Arc::new(ListArray::try_new(field, offsets, Arc::new(Float32Array::from(values)), Some(valid.into()))?))
}

/// Builds `List<Float64>` with one row holding `values`.
pub fn list_f64_row(values: Vec<f64>) -> ListArray {
    let field = Arc::new(Field::new("item", DataType::Float64, true));
    ListArray::new(field, OffsetBuffer::from_lengths([values.len()]), Arc::new(Float64Array::from(values)), None)
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
    let token_type = fsl_f32_type(dim)?;
    let DataType::FixedSizeList(_, width) = token_type else {
        return internal_err!("expected a FixedSizeList, got {token_type}");
    };
    let inner = FixedSizeListArray::try_new(item, width, Arc::new(Float32Array::from(flat)), None)?;
    debug_assert_eq!(inner.len(), n_tokens);
    let valid: Vec<bool> = matrices.iter().map(Option::is_some).collect();
    let field = Arc::new(Field::new("item", token_type, true));
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

/// A constant integer argument ≥ 1 (`n`, `m`, `k` of the compressions), or an error naming it
/// (and the value, when it is an integer out of range).
pub fn positive_constant(function: &'static str, s: Option<&ScalarValue>, what: &str) -> Result<usize> {
    let expected = || format!("{what} must be a constant integer ≥ 1");
    let Some(s) = s.filter(|s| !s.is_null() && s.data_type().is_integer()) else {
        return Err(call_error(function, expected()));
    };
    match s.cast_to(&DataType::Int64) {
        Ok(ScalarValue::Int64(Some(v))) if v >= 1 => {
            usize::try_from(v).map_err(|_| call_error(function, format!("{}, got {v}", expected())))
        }
        _ => Err(call_error(function, format!("{}, got {s}", expected()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_beyond_the_bound_or_overflowing_are_refused() {
        assert_eq!(checked_width("f", "n·m", 10, 128).ok(), Some(1280));
        let e = checked_width("f", "n·m", usize::MAX, 2).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("f: n·m = 18446744073709551615·2 values per row is more than"), "{e}");
        assert!(checked_width("f", "k·D", MAX_WIDTH + 1, 1).is_err());
    }

    #[test]
    fn a_batch_of_null_rows_is_refused_before_it_is_allocated() {
        // 2^14 NULL rows of 2^16 values would be 4 GiB of zeros.
        let rows: Vec<Option<Vec<f32>>> = vec![None; 1 << 14];
        let e = fsl_f32("f", MAX_WIDTH, &rows).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("16384 rows of 65536 values are more than a result batch may hold"), "{e}");
        assert_eq!(fsl_f32("f", 2, &[None, Some(vec![1.0, 2.0])]).map(|a| a.len()).ok(), Some(2));
    }

    #[test]
    fn constants_out_of_range_are_named() {
        let msg =
            |s: ScalarValue| positive_constant("f", Some(&s), "n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg(ScalarValue::Int64(Some(0))).contains("f: n must be a constant integer ≥ 1, got 0"));
        assert!(msg(ScalarValue::Int64(Some(i64::MIN))).contains(&format!("got {}", i64::MIN)));
        assert!(msg(ScalarValue::UInt64(Some(u64::MAX))).contains(&format!("got {}", u64::MAX)));
        assert!(msg(ScalarValue::Float64(Some(2.0))).ends_with("n must be a constant integer ≥ 1"));
        assert!(msg(ScalarValue::Int64(None)).ends_with("n must be a constant integer ≥ 1"));
        assert_eq!(positive_constant("f", Some(&ScalarValue::Int8(Some(3))), "n").ok(), Some(3));
    }

    #[test]
    fn null_items_inside_a_token_are_refused() {
        let vectors = ListArray::from_iter_primitive::<Float64Type, _, _>([Some(vec![Some(1.0), None])]);
        let field = Arc::new(Field::new("item", vectors.data_type().clone(), true));
        let matrix: ArrayRef =
            Arc::new(ListArray::new(field, OffsetBuffer::from_lengths([1]), Arc::new(vectors), None));
        let e = token_matrices("f", &matrix).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("f: row 1: token 1 contains NULL"), "{e}");
    }

    #[test]
    fn list_offsets_beyond_i32_are_refused() {
        assert!(offsets("f", [i32::MAX as usize, 1]).is_err());
        assert!(offsets("f", [usize::MAX, 1]).is_err());
        assert_eq!(offsets("f", [2, 0, 3]).map(|o| o.last().copied()).ok(), Some(Some(5)));
    }

    #[test]
    fn fixed_widths_must_fit_arrow() {
        assert!(fsl_f32_type(usize::MAX).is_err());
        assert!(tokens_type(1 << 31).is_err());
        assert_eq!(token_dim(&tokens_type(320).unwrap_or(DataType::Null)), Some(320));
    }
}
