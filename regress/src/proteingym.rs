//! ProteinGym's per-assay metrics, as its `performance_DMS_benchmarks.py` computes them (PyPI `proteingym` 1.3):
//! NDCG of the top decile, top-decile recall, ROC AUC and MCC against the assay's binarized score. Spearman's ρ,
//! its fifth metric, is [`crate::metrics::spearman`].
//!
//! Each takes the model's scores and the assay's values for the same variants (higher is fitter in both).
//! `None` means undefined where ProteinGym's value is NaN or an exception (a constant target for NDCG, one class
//! for AUC, no pairs). One place differs by design: ProteinGym ranks scores with numpy's default `argsort`,
//! which is not stable, so for tied scores its NDCG depends on numpy's build (x86-simd-sort orders ties
//! differently from the stable sort); [`ndcg`] gives tied scores the mean of their orders, which equals
//! ProteinGym's value whenever that is defined (tied scores of equal gain) and is the same whatever the row order.

/// `ndcg(score, target)`: ProteinGym's `calc_ndcg` with its defaults (`quantile=True, top=10`): gains are the
/// targets min-max scaled to [0, 1], the cut-off k = ⌊n · 10 %⌋, DCG over the k best-scored variants, normalized
/// by the DCG of the k best targets. 0 when k = 0; `None` for a constant target (ProteinGym: NaN).
pub fn ndcg(score: &[f64], target: &[f64]) -> Option<f64> {
    let n = score.len().min(target.len());
    let k = (n as f64 * (10.0 / 100.0)).floor() as usize;
    let (lo, hi) = target[..n].iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &t| (l.min(t), h.max(t)));
    let gains: Vec<f64> = target[..n].iter().map(|t| (t - lo) / (hi - lo)).collect();
    if k == 0 {
        return Some(0.0);
    }
    if gains.iter().any(|g| g.is_nan()) {
        return None;
    }
    let discount = |rank: usize| 1.0 / ((rank + 1) as f64).log2();
    // DCG: variants by score, best first; a run of tied scores over ranks a..=b contributes its total gain times
    // the mean discount of those ranks that are within k.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let mut dcg = 0.0;
    let mut start = 0;
    while start < n && start < k {
        let mut end = start + 1;
        while end < n && score[order[end]] == score[order[start]] {
            end += 1;
        }
        let gain: f64 = order[start..end].iter().map(|&i| gains[i]).sum();
        let within: f64 = (start + 1..=end.min(k)).map(discount).sum();
        dcg += gain * within / (end - start) as f64;
        start = end;
    }
    if dcg == 0.0 {
        return Some(0.0);
    }
    let mut ideal = gains;
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal.iter().take(k).enumerate().map(|(r, g)| g * discount(r + 1)).sum();
    Some(dcg / idcg)
}

/// `top_recall(score, target, top)`: ProteinGym's `calc_toprecall` — of the variants whose target is at or above
/// the target's `(100 − top)`th percentile, the fraction whose score is at or above the score's (numpy's linear
/// percentiles); 0 when no target reaches it. ProteinGym uses `top = 10`.
pub fn top_recall(score: &[f64], target: &[f64], top: f64) -> Option<f64> {
    let n = score.len().min(target.len());
    if n == 0 {
        return None;
    }
    let cut_true = percentile(&target[..n], 100.0 - top);
    let cut_model = percentile(&score[..n], 100.0 - top);
    let top_true = (0..n).filter(|&i| target[i] >= cut_true).count();
    let hits = (0..n).filter(|&i| target[i] >= cut_true && score[i] >= cut_model).count();
    Some(if top_true > 0 { hits as f64 / top_true as f64 } else { 0.0 })
}

/// `numpy.percentile(x, q)` (method `linear`), computed as numpy 1.26 does it, rounding included.
fn percentile(x: &[f64], q: f64) -> f64 {
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let q = q / 100.0;
    // numpy's `_compute_virtual_index(n, q, alpha=1, beta=1)`: n·q + (α + q·(1 − α − β)) − 1.
    let virtual_index = n as f64 * q + (1.0 - q) - 1.0;
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let clamp = |i: f64| (i.max(0.0) as usize).min(n - 1);
    let (a, b) = (sorted[clamp(previous)], sorted[clamp(previous + 1.0)]);
    // numpy's `_lerp`.
    let diff = b - a;
    if gamma >= 0.5 { b - diff * (1.0 - gamma) } else { a + diff * gamma }
}

/// `auc(score, label)`: scikit-learn's `roc_auc_score(y_true=label, y_score=score)`, the label being ProteinGym's
/// `DMS_score_bin` (1 = fit). Tied scores count half. `None` with a single class (scikit-learn raises).
pub fn auc(score: &[f64], label: &[bool]) -> Option<f64> {
    let n = score.len().min(label.len());
    let positives = label[..n].iter().filter(|&&l| l).count();
    let negatives = n - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let ranks = crate::metrics::rank_average(&score[..n]);
    let positive_ranks: f64 = (0..n).filter(|&i| label[i]).map(|i| ranks[i]).sum();
    let p = positives as f64;
    Some((positive_ranks - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// `mcc(score, label)`: ProteinGym's MCC — scores binarized at their median (`score >= median` is 1), then
/// scikit-learn's `matthews_corrcoef(y_true=label, y_pred)`, which is 0 when either side has one class.
pub fn mcc(score: &[f64], label: &[bool]) -> Option<f64> {
    let n = score.len().min(label.len());
    if n == 0 {
        return None;
    }
    let median = median(&score[..n]);
    let predicted: Vec<bool> = score[..n].iter().map(|&s| s >= median).collect();
    // scikit-learn's formula on the confusion matrix, in its order of operations.
    let count = |v: &[bool], class: bool| v.iter().filter(|&&x| x == class).count() as f64;
    let (t0, t1) = (count(&label[..n], false), count(&label[..n], true));
    let (p0, p1) = (count(&predicted, false), count(&predicted, true));
    let correct = (0..n).filter(|&i| label[i] == predicted[i]).count() as f64;
    let samples = n as f64;
    let cov_ytyp = correct * samples - (t0 * p0 + t1 * p1);
    let cov_ypyp = samples * samples - (p0 * p0 + p1 * p1);
    let cov_ytyt = samples * samples - (t0 * t0 + t1 * t1);
    if cov_ypyp * cov_ytyt == 0.0 {
        return Some(0.0);
    }
    Some(cov_ytyp / (cov_ytyt * cov_ypyp).sqrt())
}

/// pandas' `Series.median()`: the middle value, or the mean of the two middle values.
fn median(x: &[f64]) -> f64 {
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_is_one_for_a_perfect_ranking_and_zero_below_ten_variants() {
        let target: Vec<f64> = (0..30).map(f64::from).collect();
        assert!((ndcg(&target, &target).unwrap() - 1.0).abs() < 1e-15);
        assert_eq!(ndcg(&[1.0, 2.0], &[2.0, 1.0]), Some(0.0));
        assert_eq!(ndcg(&target, &[5.0; 30]), None);
    }

    #[test]
    fn percentile_interpolates_as_numpy() {
        // numpy.percentile([1, 2, 3, 4], 90) == 3.7
        assert!((percentile(&[4.0, 1.0, 3.0, 2.0], 90.0) - 3.7).abs() < 1e-15);
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
    }

    #[test]
    fn auc_and_mcc_of_small_cases() {
        // roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
        // Median 0.375; predicted [0, 1, 0, 1] vs [0, 0, 1, 1]: matthews_corrcoef == 0.0
        assert_eq!(mcc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.0));
        assert_eq!(mcc(&[1.0, 1.0, 1.0], &[false, true, true]), Some(0.0));
    }
}
